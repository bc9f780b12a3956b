import { RequestError } from "@nats-io/transport-node";
import { isStreamOrConsumerNotFound } from "./jetstream-codes.ts";
import type { Logger } from "./logger.ts";

/**
 * True when JetStream says something this service owns is gone: the stream or the consumer
 * is not found, or a publish found no responders on its subject (no stream captures it any
 * more: a NATS server that came back without its store, a stream deleted by mistake).
 * nats.js reports that last case as "jetstream is not enabled", with the no-responders
 * request error as its cause.
 */
export function isMissingResource(err: unknown): boolean {
  return isStreamOrConsumerNotFound(err) || isNoResponders(err);
}

/** A request (or a publish, through its cause) nobody answered. */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof RequestError) return err.isNoResponders();
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof RequestError && cause.isNoResponders();
}

/** Provisions idempotently and names what it had to create (empty: all of it was there). */
export type EnsureResources = () => Promise<string[]>;

/**
 * Re-provisions what a service owns in JetStream when the engine reports it missing.
 * Single-flight (concurrent callers share one run) and rate-limited (at most one run per
 * `minIntervalMs`, so a flood of failing publishes costs one stream lookup a second, not one
 * per vote). One WARN when the loss is first seen, one INFO once re-provisioned; a failed
 * attempt (NATS still unreachable) stays quiet and the next failure tries again.
 */
export class JetStreamHealer {
  readonly #what: string;
  readonly #ensure: EnsureResources;
  readonly #minIntervalMs: number;
  readonly #logger: Logger;
  #running: Promise<boolean> | undefined;
  #lastStartedAt = Number.NEGATIVE_INFINITY;
  #missing = false;
  #runs = 0;

  constructor(what: string, ensure: EnsureResources, minIntervalMs: number, logger: Logger) {
    this.#what = what;
    this.#ensure = ensure;
    this.#minIntervalMs = minIntervalMs;
    this.#logger = logger;
  }

  /** How many times ensure has run (for tests and metrics). */
  get runs(): number {
    return this.#runs;
  }

  /**
   * Called with the failure that suggests the resource is missing. Resolves true once an
   * ensure run (this call's or one already in flight) succeeded, false when it failed or the
   * rate limit skipped it. Never rejects: the caller's own error handling stays in charge.
   */
  heal(cause?: unknown): Promise<boolean> {
    if (this.#running || this.#rateLimited()) return this.#running ?? Promise.resolve(false);
    if (!this.#missing) {
      this.#missing = true;
      this.#logger.warn({ err: cause }, `${this.#what} missing in JetStream; re-provisioning`);
    }
    return this.#start();
  }

  /**
   * Runs ensure without a known failure: after a reconnect the server may be a new, empty
   * one. Ensure is idempotent, so a check that finds everything in place changes nothing
   * and logs nothing.
   */
  check(): Promise<boolean> {
    if (this.#running || this.#rateLimited()) return this.#running ?? Promise.resolve(false);
    return this.#start();
  }

  #rateLimited(): boolean {
    return performance.now() - this.#lastStartedAt < this.#minIntervalMs;
  }

  #start(): Promise<boolean> {
    this.#lastStartedAt = performance.now();
    const running = this.#run().finally(() => {
      this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  async #run(): Promise<boolean> {
    this.#runs++;
    let created: string[];
    try {
      created = await this.#ensure();
    } catch (err) {
      this.#logger.debug({ err }, `re-provisioning ${this.#what} failed; will retry`);
      return false;
    }
    // A check (no failure seen yet) that had to create something found a loss too.
    if (!this.#missing && created.length > 0)
      this.#logger.warn({ created }, `${this.#what} missing in JetStream; re-provisioning`);
    if (this.#missing || created.length > 0)
      this.#logger.info({ created }, `${this.#what} re-provisioned in JetStream`);
    this.#missing = false;
    return true;
  }
}
