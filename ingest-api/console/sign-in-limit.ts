import type { RequestHandler } from "express";
import { Counter, type Registry } from "prom-client";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { RateLimitedError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { clientAddress } from "../http/client-address.ts";

export type SignInOutcome = "signed_in" | "invalid_invite" | "invalid_request" | "limited";

/**
 * Failed sign-ins (invite exchanges) per client address and minute, counted in Redis so the
 * budget holds across API processes (in memory while Redis is away, as the other limits):
 * once spent, the address's sign-ins are refused with 429 until the window ends, without
 * looking at the code. Every sign-in is counted by outcome in
 * `tallyflow_console_sign_ins_total`.
 */
export class SignInLimit {
  readonly #limiter: RateLimiterRedis | undefined;
  readonly #perMin: number;
  readonly #log: Logger;
  readonly outcomes: Counter<"outcome">;
  readonly #limited: Counter<"limit">;

  constructor(deps: {
    redis: RedisClient;
    keyPrefix: string;
    perMin: number;
    registry: Registry;
    logger: Logger;
  }) {
    this.#perMin = deps.perMin;
    this.#log = deps.logger.child({ component: "console-sign-in" });
    this.outcomes = new Counter({
      name: "tallyflow_console_sign_ins_total",
      help: "Console sign-ins (invite exchanges), by outcome",
      labelNames: ["outcome"],
      registers: [deps.registry],
    });
    for (const outcome of [
      "signed_in",
      "invalid_invite",
      "invalid_request",
      "limited",
    ] satisfies SignInOutcome[])
      this.outcomes.inc({ outcome }, 0);
    this.#limited =
      (deps.registry.getSingleMetric("tallyflow_rate_limited_total") as Counter<"limit">) ??
      new Counter({
        name: "tallyflow_rate_limited_total",
        help: "Requests refused with 429, by limit",
        labelNames: ["limit"],
        registers: [deps.registry],
      });
    if (deps.perMin === 0) return;
    const keyPrefix = `${deps.keyPrefix}ratelimit:console_sign_in_failures`;
    this.#limiter = new RateLimiterRedis({
      storeClient: deps.redis,
      useRedisPackage: true,
      keyPrefix,
      points: deps.perMin,
      duration: 60,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix, points: deps.perMin, duration: 60 }),
    });
  }

  /** Refuses an address whose failures spent the budget; counts this one if it fails (4xx). */
  readonly guard: RequestHandler = (req, res, next) => {
    const limiter = this.#limiter;
    if (limiter === undefined) return next();
    const address = clientAddress(req);
    limiter.get(address).then(
      (state) => {
        if (state !== null && state.consumedPoints >= this.#perMin) {
          this.#limited.inc({ limit: "console_sign_in_failures" });
          this.outcomes.inc({ outcome: "limited" });
          return next(
            new RateLimitedError(
              "console_sign_in_failures",
              `too many failed sign-ins from ${address}: at most ${this.#perMin} per minute`,
              state.msBeforeNext,
            ),
          );
        }
        res.once("finish", () => {
          if (res.statusCode < 400 || res.statusCode >= 500 || res.statusCode === 429) return;
          limiter.consume(address).catch((rejection: unknown) => {
            if (!(rejection instanceof RateLimiterRes))
              this.#log.warn({ err: rejection }, "sign-in limiter failed");
          });
        });
        next();
      },
      (err: unknown) => {
        // Fail open, as the other limits: the invite code is still required.
        this.#log.warn({ err }, "sign-in limiter failed; letting the sign-in through");
        next();
      },
    );
  };
}
