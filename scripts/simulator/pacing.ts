// Open-loop pacing by elapsed time: how many votes should have been cast by now. A late
// timer never lowers the rate, it only makes the next tick cast more. With a "day" the
// rate follows a school day's curve compressed into that duration, --rate being the peak.

// Relative activity by local hour (kiosks in schools and offices): busy at lunch and in
// the late afternoon, nearly idle at night.
export const HOURLY = [
  1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 18, 24, 20, 14, 15, 18, 16, 10, 7, 5, 3, 2, 1,
] as const;
const HOURLY_MAX = Math.max(...HOURLY);

/** Activity of local hour `h` relative to the busiest hour (0..1]. */
export function hourFactor(hour: number): number {
  return (HOURLY[((Math.floor(hour) % 24) + 24) % 24] ?? 1) / HOURLY_MAX;
}

const hourFormats = new Map<string, Intl.DateTimeFormat>();

/** The hour of the day (0-23) at `ms` in an IANA time zone. */
export function localHour(timeZone: string, ms: number): number {
  let format = hourFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "numeric", hourCycle: "h23" });
    hourFormats.set(timeZone, format);
  }
  return Number(format.format(ms));
}

export class Pacer {
  readonly #rate: number;
  readonly #dayMs: number;
  readonly #startHour: number;
  #due = 0;
  #lastMs = 0;

  /**
   * `rate` votes/s (the peak when `dayMs` > 0, constant otherwise). A compressed day
   * starts at `startHour` (8:00: the morning rush comes soon, not after a quiet night).
   */
  constructor(rate: number, dayMs = 0, startHour = 8) {
    this.#rate = rate;
    this.#dayMs = dayMs;
    this.#startHour = startHour;
  }

  /** Votes/s at elapsed time `ms`. */
  rateAt(ms: number): number {
    if (this.#dayMs <= 0) return this.#rate;
    const hour = this.#startHour + ((ms % this.#dayMs) / this.#dayMs) * 24;
    return this.#rate * hourFactor(hour);
  }

  /** Total votes due by elapsed time `ms` (call with non-decreasing times). */
  dueAt(ms: number): number {
    if (this.#dayMs <= 0) return Math.floor((ms * this.#rate) / 1000);
    // Integrate in steps of at most 100 ms (the curve changes hourly: exact enough).
    while (this.#lastMs < ms) {
      const step = Math.min(100, ms - this.#lastMs);
      this.#due += (this.rateAt(this.#lastMs + step / 2) * step) / 1000;
      this.#lastMs += step;
    }
    return Math.floor(this.#due);
  }
}

/** Picks an index with probability proportional to its weight (binary search over the running sum). */
export class WeightedPicker {
  readonly #cumulative: Float64Array;
  readonly #total: number;

  constructor(weights: readonly number[]) {
    this.#cumulative = new Float64Array(weights.length);
    let sum = 0;
    weights.forEach((w, i) => {
      sum += Math.max(0, w);
      this.#cumulative[i] = sum;
    });
    this.#total = sum;
  }

  get size(): number {
    return this.#cumulative.length;
  }

  pick(r: number): number {
    const target = r * this.#total;
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
