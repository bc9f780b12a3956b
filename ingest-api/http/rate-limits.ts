import type { Request, RequestHandler } from "express";
import { Counter, type Registry } from "prom-client";
import {
  BurstyRateLimiter,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RLWrapperTimeouts,
} from "rate-limiter-flexible";
import { RateLimitedError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { RateLimitConfig } from "../config.ts";
import { clientAddress } from "./client-address.ts";

/** The limits, as named in 429 details and in the `tallyflow_rate_limited_total` metric. */
export type LimitName =
  | "kiosk_votes"
  | "kiosk_batches"
  | "results"
  | "sse_connects"
  | "pages"
  | "readyz"
  | "auth_failures"
  | "pairing"
  | "pairing_failures"
  | "completions";

export type AddressLimit = "results" | "sse_connects" | "pages" | "readyz";

interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

const pass: RequestHandler = (_req, _res, next) => next();

// Addresses refused for failed authentications, remembered by this instance until their
// window ends. Bounded: a flood of addresses clears it (they are then counted again).
const MAX_BLOCKED_ADDRESSES = 100_000;
const FAIL_OPEN_WARN_INTERVAL_MS = 60_000;

/**
 * Request limits, counted in Redis by rate-limiter-flexible so they hold across API
 * instances (fixed windows: one Lua INCR + PTTL per request). When Redis fails or takes
 * longer than `redisTimeoutMs`, each limiter decides in memory with the same budget
 * (`insuranceLimiter`): the limit then holds per instance, and an honest kiosk is never
 * refused because the limiter's store is unavailable. Any other limiter failure lets the
 * request through (fail open) with a WARN.
 */
export class RateLimits {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #config: RateLimitConfig;
  readonly #log: Logger;
  readonly #throttled: Counter<"limit">;
  readonly #blockedUntil = new Map<string, number>();
  #lastWarnMs = -Infinity;
  #authFailures: Limiter | undefined;
  #pairFailures: Limiter | undefined;
  /** Until when every pairing is refused: the fleet-wide failure budget is spent. */
  #pairBlockedUntil = 0;

  constructor(
    redis: RedisClient,
    redisKeyPrefix: string,
    config: RateLimitConfig,
    registry: Registry,
    logger: Logger,
  ) {
    this.#redis = redis;
    this.#prefix = `${redisKeyPrefix}ratelimit:`;
    this.#config = config;
    this.#log = logger.child({ component: "rate-limits" });
    this.#throttled = new Counter({
      name: "tallyflow_rate_limited_total",
      help: "Requests refused with 429, by limit",
      labelNames: ["limit"],
      registers: [registry],
    });
    for (const limit of [
      "kiosk_votes",
      "kiosk_batches",
      "results",
      "sse_connects",
      "pages",
      "readyz",
      "auth_failures",
      "pairing",
      "pairing_failures",
      "completions",
    ] satisfies LimitName[])
      this.#throttled.inc({ limit }, 0);
    if (config.authFailuresPerMin > 0)
      this.#authFailures = this.#limiter("auth_failures", config.authFailuresPerMin, 60);
    if (config.pairFailuresPerMin > 0)
      this.#pairFailures = this.#limiter("pairing_failures", config.pairFailuresPerMin, 60);
  }

  /** One store limiter with its in-memory insurance and a bound on the wait for Redis. */
  #limiter(name: string, points: number, durationS: number): RLWrapperTimeouts {
    const keyPrefix = `${this.#prefix}${name}`;
    const insuranceLimiter = new RateLimiterMemory({ keyPrefix, points, duration: durationS });
    const store = new RateLimiterRedis({
      storeClient: this.#redis,
      useRedisPackage: true,
      keyPrefix,
      points,
      duration: durationS,
      insuranceLimiter,
    });
    return new RLWrapperTimeouts({
      limiter: store,
      timeoutMs: this.#config.redisTimeoutMs,
      insuranceLimiter,
    });
  }

  /**
   * Per kiosk, after requireKiosk (the id comes from the token) and before the body is read,
   * so a refused flood costs no parsing. Single votes and batches have budgets of their own;
   * batches add a per-minute burst for a kiosk flushing its offline queue.
   */
  kiosk(kind: "votes" | "batches"): RequestHandler {
    const c = this.#config;
    if (kind === "votes") {
      if (c.kioskVotesPerS === 0) return pass;
      return this.#guard(
        "kiosk_votes",
        this.#limiter("kiosk_votes", c.kioskVotesPerS, 1),
        (req) => req.kioskId!,
        (req) => `kiosk "${req.kioskId}" sent more than ${c.kioskVotesPerS} votes per second`,
      );
    }
    if (c.kioskBatchesPerS === 0) return pass;
    const perSecond = this.#limiter("kiosk_batches", c.kioskBatchesPerS, 1);
    const limiter =
      c.kioskBatchBurstPerMin === 0
        ? perSecond
        : new BurstyRateLimiter(
            perSecond,
            this.#limiter("kiosk_batch_burst", c.kioskBatchBurstPerMin, 60),
          );
    const burst =
      c.kioskBatchBurstPerMin === 0 ? "" : ` and its burst of ${c.kioskBatchBurstPerMin} a minute`;
    return this.#guard(
      "kiosk_batches",
      limiter,
      (req) => req.kioskId!,
      (req) =>
        `kiosk "${req.kioskId}" sent more than ${c.kioskBatchesPerS} batches per second${burst}`,
    );
  }

  /** Whether this per-address limit is on (0 per second: off). */
  limitsByAddress(name: AddressLimit): boolean {
    return this.#perS(name) > 0;
  }

  #perS(name: AddressLimit): number {
    return {
      results: this.#config.resultsPerS,
      sse_connects: this.#config.sseConnectsPerS,
      pages: this.#config.pagesPerS,
      readyz: this.#config.readyzPerS,
    }[name];
  }

  /** Per client address, for the unauthenticated routes. */
  byAddress(name: AddressLimit): RequestHandler {
    const perS = this.#perS(name);
    if (perS === 0) return pass;
    const what = {
      results: "results requests",
      sse_connects: "event stream connects",
      pages: "page requests",
      readyz: "readiness checks",
    }[name];
    return this.#guard(name, this.#limiter(name, perS, 1), clientAddress, (req) => {
      return `too many ${what} from ${clientAddress(req)}: at most ${perS} per second`;
    });
  }

  /**
   * `POST /v1/pair` per client address and minute, every attempt counted (not only the
   * failed ones): a code has 40 bits and lives minutes, so guessing needs volume. A hall
   * pairing many kiosks at once behind one NAT address needs RATE_LIMIT_PAIR_PER_MIN raised.
   */
  pairing(): RequestHandler {
    const perMin = this.#config.pairPerMin;
    if (perMin === 0) return pass;
    return this.#guard(
      "pairing",
      this.#limiter("pairing", perMin, 60),
      clientAddress,
      (req) => `too many pairing attempts from ${clientAddress(req)}: at most ${perMin} per minute`,
    );
  }

  /**
   * `POST /v1/registers/:pollId/complete` per credential and minute, after its authentication
   * (`key` names the credential: a kiosk, a teacher or an admin). A lesson is completed once;
   * a device's outbox resends a completion only until answered, so an honest credential
   * completes a few registers an hour. The budget bounds what a leaked or looping one
   * publishes to the queue.
   */
  completions(key: (req: Request) => string): RequestHandler {
    const perMin = this.#config.completionsPerMin;
    if (perMin === 0) return pass;
    return this.#guard(
      "completions",
      this.#limiter("completions", perMin, 60),
      key,
      (req) => `${key(req)} sent more than ${perMin} register completions per minute`,
    );
  }

  /**
   * Failed pairings of every address together, per minute and across instances: a guesser
   * with many addresses (IPv6 /64s are cheap) passes every per-address budget, so only a
   * fleet-wide one bounds the guesses each outstanding code faces (RATE_LIMIT_PAIR_FAILURES_PER_MIN
   * × its minutes of life, against 2^40 codes). Only failures count (any 4xx but 429): a
   * successful pairing never spends it, and a kiosk typing its code wrong once is one failure.
   * Once it is spent, POST /v1/pair answers 429 without looking at the code until the window
   * ends; an honest kiosk's code stays valid meanwhile and pairs when it tries again.
   */
  readonly pairingFailures: RequestHandler = (_req, res, next) => {
    const limiter = this.#pairFailures;
    if (limiter === undefined) return next();
    const waitMs = this.#pairBlockedUntil - Date.now();
    if (waitMs > 0) {
      this.#throttled.inc({ limit: "pairing_failures" });
      const per = this.#config.pairFailuresPerMin;
      return next(
        new RateLimitedError(
          "pairing_failures",
          `too many failed pairings from every address together: at most ${per} per minute`,
          waitMs,
        ),
      );
    }
    res.once("finish", () => {
      if (res.statusCode < 400 || res.statusCode >= 500 || res.statusCode === 429) return;
      limiter.consume("all").catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes))
          return this.#failOpen("pairing_failures", rejection);
        this.#pairBlockedUntil = Date.now() + rejection.msBeforeNext;
      });
    });
    next();
  };

  /**
   * Counts every 401 per client address; once an address spends its budget, its requests
   * carrying credentials get 429 until the window ends (brute force). The check is in
   * memory (no Redis call on the vote path); the count is shared, so each instance refuses
   * an address at its first failure there after the budget is spent anywhere.
   */
  readonly authFailures: RequestHandler = (req, res, next) => {
    const limiter = this.#authFailures;
    if (limiter === undefined) return next();
    const address = clientAddress(req);
    if (req.headers.authorization !== undefined) {
      const until = this.#blockedUntil.get(address);
      if (until !== undefined && until > Date.now()) {
        this.#throttled.inc({ limit: "auth_failures" });
        const per = this.#config.authFailuresPerMin;
        return next(
          new RateLimitedError(
            "auth_failures",
            `too many failed authentications from ${address}: at most ${per} per minute`,
            until - Date.now(),
          ),
        );
      }
      if (until !== undefined) this.#blockedUntil.delete(address);
    }
    res.once("finish", () => {
      if (res.statusCode !== 401) return;
      limiter.consume(address).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes))
          return this.#failOpen("auth_failures", rejection);
        if (this.#blockedUntil.size >= MAX_BLOCKED_ADDRESSES) this.#blockedUntil.clear();
        this.#blockedUntil.set(address, Date.now() + rejection.msBeforeNext);
      });
    });
    next();
  };

  #guard(
    name: LimitName,
    limiter: Limiter,
    key: (req: Request) => string,
    message: (req: Request) => string,
  ): RequestHandler {
    return (req, _res, next) => {
      limiter.consume(key(req)).then(
        () => next(),
        (rejection: unknown) => {
          if (!(rejection instanceof RateLimiterRes)) {
            this.#failOpen(name, rejection);
            return next();
          }
          this.#throttled.inc({ limit: name });
          next(new RateLimitedError(name, message(req), rejection.msBeforeNext));
        },
      );
    };
  }

  /** At most one WARN a minute: during an incident every request would log one. */
  #failOpen(limit: LimitName, err: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarnMs < FAIL_OPEN_WARN_INTERVAL_MS) return;
    this.#lastWarnMs = now;
    this.#log.warn({ err, limit }, "rate limiter failed; letting requests through");
  }
}
