import { Counter, type Registry } from "prom-client";
import { AppError, UnavailableError } from "../../common/errors.ts";
import { addressKey } from "../http/client-address.ts";

// One unit for every per-address budget (the SSE cap and the rate limits): an IPv4
// address, or an IPv6 /64. Re-exported for the tests that pin it down here.
export { addressKey };

/** The process holds as many SSE streams as it may: 503, try again (maybe another instance). */
export class TooManyStreamsError extends UnavailableError {
  constructor(maxClients: number, retryAfterSeconds: number) {
    super(
      "too_many_streams",
      `this server holds its maximum of ${maxClients} event streams; retry shortly`,
      retryAfterSeconds,
    );
  }
}

/** One client address holds as many SSE streams as it may: it must close one first. */
export class TooManyStreamsPerAddressError extends AppError {
  override readonly name = "TooManyStreamsPerAddressError";
  constructor(maxPerAddress: number) {
    super(
      429,
      "too_many_streams_per_address",
      `a client address may hold at most ${maxPerAddress} event streams; close one first`,
      { details: { maxPerAddress } },
    );
  }
}

export interface StreamLimits {
  sseMaxClients: number;
  sseMaxPerAddress: number;
}

/**
 * Counts open SSE streams, in total and per client address, and refuses one beyond either
 * cap. A stream holds a descriptor for as long as the client likes, so without a cap
 * unauthenticated streams could take every descriptor and, with them, vote intake.
 */
export class StreamAdmission {
  readonly #limits: StreamLimits;
  readonly #retryAfterSeconds: number;
  readonly #byAddress = new Map<string, number>();
  readonly #refused: Counter<"reason"> | undefined;
  #total = 0;

  constructor(limits: StreamLimits, retryAfterSeconds: number, registry?: Registry) {
    this.#limits = limits;
    this.#retryAfterSeconds = retryAfterSeconds;
    // A cap that is reached should be seen on a dashboard, not only by refused clients.
    this.#refused = registry
      ? new Counter({
          name: "tallyflow_sse_refused_total",
          help: "Event streams refused at a cap: total (503) or per_address (429)",
          labelNames: ["reason"],
          registers: [registry],
        })
      : undefined;
    for (const reason of ["total", "per_address"]) this.#refused?.inc({ reason }, 0);
  }

  /** Takes a slot for `address` or throws; the returned release is safe to call twice. */
  admit(address: string): () => void {
    const key = addressKey(address);
    const held = this.#byAddress.get(key) ?? 0;
    if (this.#total >= this.#limits.sseMaxClients) {
      this.#refused?.inc({ reason: "total" });
      throw new TooManyStreamsError(this.#limits.sseMaxClients, this.#retryAfterSeconds);
    }
    if (held >= this.#limits.sseMaxPerAddress) {
      this.#refused?.inc({ reason: "per_address" });
      throw new TooManyStreamsPerAddressError(this.#limits.sseMaxPerAddress);
    }
    this.#total++;
    this.#byAddress.set(key, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byAddress.get(key) ?? 1) - 1;
      if (left === 0) this.#byAddress.delete(key);
      else this.#byAddress.set(key, left);
    };
  }

  get total(): number {
    return this.#total;
  }
}
