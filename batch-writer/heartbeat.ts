import type { JsMsg } from "@nats-io/jetstream";
import type { WriterConfig } from "./config.ts";

/**
 * The messages this writer holds (fetched, not yet acked, termed or handed back). Those
 * held longer than the heartbeat (a slow batch, a Postgres outage, the prefetched batch
 * waiting its turn) get `working()`, so JetStream does not redeliver them meanwhile and
 * their delivery count stays honest.
 */
export class Heartbeat {
  readonly #inHand = new Map<JsMsg, number>();
  readonly #intervalMs: number;

  constructor(config: Pick<WriterConfig, "ackWaitMs" | "redeliveryBackoffMs">) {
    this.#intervalMs = heartbeatIntervalMs(config);
  }

  hold(msg: JsMsg): void {
    this.#inHand.set(msg, Date.now());
  }

  /** The message is settled (acked or termed): JetStream needs no more news of it. */
  forget(msg: JsMsg): void {
    this.#inHand.delete(msg);
  }

  /** Hands messages back for redelivery (shutdown while they could not be stored). */
  handBack(msgs: JsMsg[]): void {
    for (const m of msgs) {
      m.nak();
      this.#inHand.delete(m);
    }
  }

  /** Starts beating; returns the function that stops it. */
  start(): () => void {
    const timer = setInterval(() => this.#keepAlive(), this.#intervalMs);
    return () => clearInterval(timer);
  }

  #keepAlive(): void {
    const now = Date.now();
    for (const [msg, since] of this.#inHand) {
      if (now - since < this.#intervalMs) continue;
      msg.working();
      this.#inHand.set(msg, now);
    }
  }
}

/**
 * A third of the shortest time JetStream waits for an ack. With a back-off, JetStream
 * times a delivery by its back-off step, not by AckWait (the server even sets ack_wait to
 * the first step): keep alive within the shortest.
 */
function heartbeatIntervalMs(
  config: Pick<WriterConfig, "ackWaitMs" | "redeliveryBackoffMs">,
): number {
  const { ackWaitMs, redeliveryBackoffMs } = config;
  return Math.max(Math.floor(Math.min(ackWaitMs, ...redeliveryBackoffMs) / 3), 200);
}
