import type { WriterConfig } from "./config.ts";

type SizingLimits = Pick<WriterConfig, "batchMaxMessages" | "batchMaxBytes" | "batchLingerMs">;

/**
 * How many messages the next pull asks for. A pull request completes when it got all the
 * messages it asked for or when it expires (nats.js allows no less than one second). So
 * the size asked for is the lever:
 * - under a backlog it asks for what the last delivery said is pending, up to the limits;
 * - under light traffic it is sized to what arrives in `batchLingerMs`, so a vote waits
 *   about that long, not a whole second, before it is written.
 * nats.js also takes a message count or a byte budget, not both: the byte bound is kept
 * by counting how many messages of the average size seen so far fit in it (a single
 * vote is ~250 bytes, a kiosk's batch ~250 KB).
 */
export class FetchSizing {
  readonly #limits: SizingLimits;
  #avgMessageBytes = 256;
  #nextAsk = 1;

  constructor(limits: SizingLimits) {
    this.#limits = limits;
  }

  /** The message count the next pull asks for. */
  ask(): number {
    const { batchMaxBytes, batchMaxMessages } = this.#limits;
    const fitting = Math.floor(batchMaxBytes / Math.max(this.#avgMessageBytes, 1));
    return Math.max(1, Math.min(batchMaxMessages, fitting, this.#nextAsk));
  }

  /**
   * Learns from a pull that asked for `asked` messages and got `received` of them (`bytes`
   * in all) in `elapsedMs`, the last one saying `backlog` more wait behind it.
   */
  learn(pull: {
    asked: number;
    received: number;
    bytes: number;
    backlog: number;
    elapsedMs: number;
  }): void {
    const { batchMaxMessages, batchLingerMs } = this.#limits;
    if (pull.received > 0)
      this.#avgMessageBytes = 0.7 * this.#avgMessageBytes + 0.3 * (pull.bytes / pull.received);
    // Ask for exactly the backlog (up to the limits), so a fetch neither stops short nor
    // waits out its expiry.
    if (pull.backlog > 0) {
      this.#nextAsk = Math.min(pull.backlog, batchMaxMessages);
    } else if (pull.received >= pull.asked) {
      this.#nextAsk = Math.min(pull.asked * 2, batchMaxMessages);
    } else {
      const perMs = pull.received / Math.max(pull.elapsedMs, 1);
      this.#nextAsk = Math.max(1, Math.ceil(perMs * batchLingerMs));
    }
  }
}
