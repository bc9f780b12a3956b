// The server's clock as the outbox learns it: the `Date` header of each answer, against
// the device's clock at the request's start and end. A kiosk's clock may run minutes or
// days off (cheap tablets drift, one offline for days cannot sync), and a castAt the
// server takes for the future is not what the voter did. Browser-safe.

/**
 * Offsets smaller than this are taken as 0: `Date` has one-second resolution, so a
 * correct device clock measures anywhere within about a second of the server's, and
 * nudging its castAt by that noise would help nothing.
 */
const CLOCK_OFFSET_MIN_MS = 2_000;

export class ServerClock {
  readonly #deviceNow: () => number;
  #offsetMs: number | undefined;

  constructor(deviceNow: () => number) {
    this.#deviceNow = deviceNow;
  }

  /** Server time minus device time, or undefined before the first answer. */
  get offsetMs(): number | undefined {
    return this.#offsetMs;
  }

  /** The device's clock. */
  deviceNow(): number {
    return this.#deviceNow();
  }

  /** Learns from one answer's `Date`, given the device's clock when the request started. */
  learn(dateHeader: string | null, startedAt: number): void {
    const date = dateHeader === null ? Number.NaN : Date.parse(dateHeader);
    if (Number.isNaN(date)) return;
    // The server's second [date, date + 1000) was some instant between the request's start
    // and its answer: compare the middles.
    const offset = date + 500 - (startedAt + this.#deviceNow()) / 2;
    this.#offsetMs = Math.abs(offset) < CLOCK_OFFSET_MIN_MS ? 0 : Math.round(offset);
  }
}
