import { setTimeout as sleep } from "node:timers/promises";
import { JetStreamApiError, type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { TimeoutError } from "@nats-io/transport-node";
import type { CodeWithStatus } from "../../common/error-codes.ts";
import { UnavailableError } from "../../common/errors.ts";
import { isStreamFull } from "../../common/jetstream-codes.ts";
import {
  isMissingResource,
  isNoResponders,
  type JetStreamHealer,
} from "../../common/jetstream-heal.ts";
import type { Logger } from "../../common/logger.ts";
import type { NatsConnection } from "../../common/nats.ts";
import { voteSubject } from "../../common/votes-stream.ts";

export interface PublishResult {
  duplicate: boolean;
  seq: number;
}

export interface VotePublisherOptions {
  subjectPrefix: string;
  /** The whole publish, retries included, answers within this. */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  /** Pause before the first retry; it doubles for each next one. */
  retryDelayMs: number;
  /** Re-provisions the stream when a publish says it is missing. */
  healer: JetStreamHealer;
  logger: Logger;
}

/** An attempt never gets less than this, so a retry can still reach the server and back. */
const MIN_ATTEMPT_MS = 100;

/**
 * Publishes vote messages and waits for JetStream's ack: the API answers 202 only after
 * this resolves. Every failure becomes a 503 with Retry-After; while the connection is
 * known to be down it fails at once instead of waiting for the timeout.
 *
 * Inside the timeout a publish is retried a few times on the failures a cluster shows while
 * a stream elects a new leader (no responders, a 503 from JetStream, a timeout). The retry
 * carries the same Nats-Msg-Id, so if an earlier attempt did land, JetStream drops the
 * repeat and acks the stored message: that is what makes the retry safe.
 */
export class VotePublisher {
  readonly #js: JetStreamClient;
  readonly #nc: NatsConnection;
  readonly #o: VotePublisherOptions;
  #connected = true;
  #failing = false;

  constructor(nc: NatsConnection, options: VotePublisherOptions) {
    this.#nc = nc;
    this.#o = options;
    this.#js = jetstream(nc, { timeout: options.timeoutMs });
  }

  /** Fed by the connection's status events. */
  setConnected(connected: boolean): void {
    this.#connected = connected;
  }

  get connected(): boolean {
    return this.#connected && !this.#nc.isClosed();
  }

  async publish(pollId: string, data: Uint8Array, msgId: string): Promise<PublishResult> {
    if (!this.connected)
      throw new UnavailableError("nats_unavailable", "vote queue is unreachable; retry shortly", 2);
    const subject = voteSubject(this.#o.subjectPrefix, pollId);
    const deadline = performance.now() + this.#o.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      // Leave room for another attempt unless this is the last one.
      const lastTry = attempt >= this.#o.retries || left < 2 * MIN_ATTEMPT_MS;
      const timeout = Math.max(lastTry ? left : left / 2, 1);
      try {
        const ack = await this.#js.publish(subject, data, { msgID: msgId, timeout });
        if (this.#failing) this.#o.logger.info("JetStream publishing recovered");
        this.#failing = false;
        // After a retry, "duplicate" most likely means our own earlier attempt landed: the
        // client's first submission is then reported as accepted, not as a repeat.
        return { duplicate: ack.duplicate && attempt === 0, seq: ack.seq };
      } catch (err) {
        if (isStreamFull(err))
          throw this.#refuse("queue_full", "vote queue is full; retry later", 30, err);
        // Once the stream is re-provisioned the retry can land at once, without a pause.
        const healed = isMissingResource(err) && (await this.#healWithin(err, deadline));
        const pause = healed ? 0 : this.#o.retryDelayMs * 2 ** attempt;
        if (lastTry || !isRetryable(err) || deadline - performance.now() < pause + MIN_ATTEMPT_MS)
          throw this.#refuse(
            "nats_unavailable",
            "vote queue did not confirm; retry shortly",
            2,
            err,
          );
        this.#o.logger.debug({ err, attempt, pauseMs: pause }, "JetStream publish retried");
        if (pause > 0) await sleep(pause);
        // A connection lost meanwhile would fail the next attempt at once: answer now.
        if (!this.connected)
          throw this.#refuse(
            "nats_unavailable",
            "vote queue is unreachable; retry shortly",
            2,
            err,
          );
      }
    }
  }

  /** Waits for the healer, but not past the publish deadline. */
  async #healWithin(err: unknown, deadline: number): Promise<boolean> {
    const timer = new AbortController();
    const expired = sleep(Math.max(deadline - performance.now(), 0), false, {
      signal: timer.signal,
    }).catch(() => false);
    try {
      return await Promise.race([this.#o.healer.heal(err), expired]);
    } finally {
      timer.abort();
    }
  }

  #refuse(code: CodeWithStatus<503>, message: string, retryAfterSeconds: number, cause: unknown) {
    if (!this.#failing)
      this.#o.logger.warn({ err: cause }, "JetStream publish failed; answering 503");
    this.#failing = true;
    return new UnavailableError(code, message, retryAfterSeconds, cause);
  }
}

/**
 * Failures a retry may cure: nobody answered (a stream electing a leader, or one just
 * re-provisioned), JetStream itself said 503 (no quorum yet), or the ack did not come in
 * time (the leader died with the request). Anything else (a 400, a permissions error)
 * fails the same way again.
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof TimeoutError || isNoResponders(err)) return true;
  if (err instanceof JetStreamApiError) return err.status === 503 || isMissingResource(err);
  return false;
}
