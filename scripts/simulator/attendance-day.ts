import { prng } from "../../harness/seeded-random.ts";

// A school day at the door, person by person: arrivals around the bell with a late tail,
// check-outs in the afternoon (a few leave at lunch), ~5 % absent, a few who forget to check
// out, a few fevers, and a check-in before every check-out. A person's day is drawn from a
// generator seeded by (seed, school, person, day) alone, so the simulator and
// bench:attendance can compute it again when they send it instead of keeping ten million
// of them, and a run is repeatable.

/** Minutes after local midnight. */
export type LocalMinutes = number;

export interface AttendanceDayShape {
  /** The bell: most arrive in the 35 minutes before it. */
  bell: LocalMinutes;
  /** Share of people with no event that day. */
  absent: number;
  /** Share of those who come that arrive after the bell + 15 minutes (the late tail). */
  late: number;
  /** Mean minutes of the late tail beyond bell + 15 (exponential, cut at 3 hours). */
  lateMeanMinutes: number;
  /** Dismissal: check-outs over the 45 minutes after it. */
  dismissal: LocalMinutes;
  /** Share of those who come that leave at lunch (11:30-13:30): often too few minutes. */
  leaveEarly: number;
  /** Share of those who come that never check out (closed at dayEndsAt by the rules). */
  forgetOut: number;
  /** Share of check-ins with a temperature taken. */
  temperature: number;
  /** Share of those who come with a fever (38.0-39.4 °C, always taken). */
  fever: number;
}

export const SCHOOL_DAY: AttendanceDayShape = Object.freeze({
  bell: 8 * 60,
  absent: 0.05,
  late: 0.06,
  lateMeanMinutes: 25,
  dismissal: 15 * 60 + 30,
  leaveEarly: 0.03,
  forgetOut: 0.02,
  temperature: 0.3,
  fever: 0.01,
});

/** A person's day: absent, or a check-in and maybe a check-out, times in ms after local midnight. */
export interface PersonDayPlan {
  absent: boolean;
  /** Arrived after bell + 15 minutes. */
  late: boolean;
  fever: boolean;
  /** Never checks out. */
  forgot: boolean;
  inMs: number;
  /** null: no check-out. Always after inMs. */
  outMs: number | null;
  temperatureC: number | null;
}

/** 32-bit hash of (seed, school, person number, day number): a person-day's own seed. */
export function personDaySeed(seed: number, schoolId: string, n: number, dayIndex: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < schoolId.length; i++) h = Math.imul(h ^ schoolId.charCodeAt(i), 0x01000193);
  h ^= Math.imul(n, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= Math.imul(dayIndex + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const MINUTE = 60_000;
const tenths = (x: number) => Math.round(x * 10) / 10;

/** One person's day from its own seed. */
export function planPersonDay(
  daySeed: number,
  shape: AttendanceDayShape = SCHOOL_DAY,
): PersonDayPlan {
  const rand = prng(daySeed);
  if (rand() < shape.absent)
    return {
      absent: true,
      late: false,
      fever: false,
      forgot: false,
      inMs: 0,
      outMs: null,
      temperatureC: null,
    };
  const late = rand() < shape.late;
  let inMinutes: number;
  if (late) {
    const tail = Math.min(180, -Math.log(1 - rand()) * shape.lateMeanMinutes);
    inMinutes = shape.bell + 15 + tail;
  } else {
    // Triangular over the 35 minutes before the bell up to 10 after it (peaking ~12 before).
    inMinutes = shape.bell - 35 + (rand() + rand()) * 22.5;
  }
  const inMs = Math.floor(inMinutes * MINUTE + rand() * 1000);
  const fever = rand() < shape.fever;
  const temperatureC = fever
    ? tenths(38 + rand() * 1.4)
    : rand() < shape.temperature
      ? tenths(36 + rand() * 1.4)
      : null;
  const forgot = rand() < shape.forgetOut;
  let outMs: number | null = null;
  if (!forgot) {
    const outMinutes =
      rand() < shape.leaveEarly ? 11.5 * 60 + rand() * 120 : shape.dismissal + rand() * 45;
    // A check-in before every check-out: someone very late who leaves at lunch leaves after it.
    outMs = Math.max(inMs + 5 * MINUTE, Math.floor(outMinutes * MINUTE + rand() * 1000));
  }
  return { absent: false, late, fever, forgot, inMs, outMs, temperatureC };
}
