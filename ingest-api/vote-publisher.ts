import { JetStreamApiError, type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { UnavailableError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { NatsConnection } from "../common/nats.ts";
import { voteSubject } from "../common/votes-stream.ts";

export interface PublishResult {
  duplicate: boolean;
  seq: number;
}

// JetStream API error codes that mean "the stream is full", not "NATS is down".
const STREAM_FULL_CODES = new Set([10047, 10077, 10028]);

/**
 * Publishes vote messages and waits for JetStream's ack: the API answers 202 only after
 * this resolves. Every failure becomes a 503 with Retry-After; while the connection is
 * known to be down it fails at once instead of waiting for the timeout.
 */
export class VotePublisher {
  readonly #js: JetStreamClient;
  readonly #nc: NatsConnection;
  readonly #subjectPrefix: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  #connected = true;
  #failing = false;

  constructor(nc: NatsConnection, subjectPrefix: string, timeoutMs: number, logger: Logger) {
    this.#nc = nc;
    this.#js = jetstream(nc, { timeout: timeoutMs });
    this.#subjectPrefix = subjectPrefix;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
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
    try {
      const ack = await this.#js.publish(voteSubject(this.#subjectPrefix, pollId), data, {
        msgID: msgId,
        timeout: this.#timeoutMs,
      });
      if (this.#failing) this.#logger.info("JetStream publishing recovered");
      this.#failing = false;
      return { duplicate: ack.duplicate, seq: ack.seq };
    } catch (err) {
      if (!this.#failing) this.#logger.warn({ err }, "JetStream publish failed; answering 503");
      this.#failing = true;
      if (err instanceof JetStreamApiError && STREAM_FULL_CODES.has(err.code))
        throw new UnavailableError("queue_full", "vote queue is full; retry later", 30, err);
      throw new UnavailableError(
        "nats_unavailable",
        "vote queue did not confirm; retry shortly",
        2,
        err,
      );
    }
  }
}
