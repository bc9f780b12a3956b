import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { dayBounds, type LocalDay } from "../../common/attendance/school-day.ts";
import { prng } from "../../harness/seeded-random.ts";
import {
  type AttendanceDayShape,
  type PersonDayPlan,
  personDaySeed,
  planPersonDay,
  SCHOOL_DAY,
} from "./attendance-day.ts";
import type { AttendanceSchool } from "./attendance-registers.ts";
import type { AttendanceEventBody, AttendanceSender } from "./attendance-sender.ts";
import { personId } from "./roster.ts";

// Attendance days played against the API: for each day, the morning (every check-in of
// every school, in order of its school-local time of day) then the afternoon (every
// check-out), each sent at `rate` events/s: the day's clock is compressed, the rate is not.
// Every event carries the castAt of its real school-local time on that (past) day. Kiosks
// chosen as offline keep their morning's check-ins and send them once the afternoon is
// done, through the same endpoint: hours late by their castAt, after the same person's
// check-out (which went through another kiosk), as a kiosk back online does.
//
// A person-day is drawn from its own seed (attendance-day.ts), so the timeline of ten
// million people is kept as two typed arrays, not as ten million objects.

export interface AttendanceRunOptions {
  schools: AttendanceSchool[];
  /** Per school (same order), the days to play, oldest first; all as long as dayCount. */
  days: LocalDay[][];
  rate: number;
  seed: number;
  /** Share of kiosks offline in the morning of each day (their check-ins flushed late). */
  offline: number;
  shape?: AttendanceDayShape;
  sender: AttendanceSender;
  /** Progress lines. */
  log?: (line: string) => void;
  progressIntervalMs?: number;
  /** Told when each phase starts and ends (bench:attendance measures the peaks). */
  onPhase?: (phase: PhaseReport) => void;
  shouldStop?: () => boolean;
}

export interface PhaseReport {
  dayIndex: number;
  phase: "in" | "out" | "late";
  state: "start" | "end";
  atMs: number;
  /** At the end: events handed to the kiosks' outboxes, and the send seconds. */
  events?: number;
  seconds?: number;
}

export interface AttendanceRunResult {
  /** Events handed to the kiosks, by phase. */
  events: { in: number; out: number; late: number };
  /** Per peak: events/s achieved while sending it (handed to kiosks). */
  phaseRates: { dayIndex: number; phase: "in" | "out"; events: number; seconds: number }[];
  absent: number;
  late: number;
  forgot: number;
  fever: number;
  offlineKiosks: string[];
}

/** A school's person n on day d: its plan (drawn again wherever it is needed). */
export function planOf(
  seed: number,
  school: AttendanceSchool,
  n: number,
  d: number,
  shape = SCHOOL_DAY,
): PersonDayPlan {
  return planPersonDay(personDaySeed(seed, school.id, n, d), shape);
}

export async function runAttendanceDays(o: AttendanceRunOptions): Promise<AttendanceRunResult> {
  const shape = o.shape ?? SCHOOL_DAY;
  const rand = prng(o.seed ^ 0x5eed);
  const result: AttendanceRunResult = {
    events: { in: 0, out: 0, late: 0 },
    phaseRates: [],
    absent: 0,
    late: 0,
    forgot: 0,
    fever: 0,
    offlineKiosks: [],
  };
  const dayCount = o.days[0]?.length ?? 0;
  // Global person index → school (starts[s] is school s's first).
  const starts = new Uint32Array(o.schools.length + 1);
  o.schools.forEach((s, i) => {
    starts[i + 1] = starts[i]! + s.people.count;
  });
  const total = starts[o.schools.length]!;
  const schoolOf = new Uint16Array(total);
  for (let i = 0; i < o.schools.length; i++) schoolOf.fill(i, starts[i]!, starts[i + 1]!);

  // Offline kiosks: round(share × kiosks), at least one when the share is not 0.
  const allKiosks = o.schools.flatMap((s) => s.kiosks.map((k) => k.id));
  const offlineCount = o.offline > 0 ? Math.max(1, Math.round(o.offline * allKiosks.length)) : 0;
  for (let i = allKiosks.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [allKiosks[i], allKiosks[j]] = [allKiosks[j]!, allKiosks[i]!];
  }
  const offline = new Set(allKiosks.slice(0, offlineCount));
  result.offlineKiosks = [...offline].sort();

  for (let d = 0; d < dayCount; d++) {
    // One pass: each person's check-in and check-out second of the local day (−1: none).
    const inSec = new Int32Array(total);
    const outSec = new Int32Array(total);
    for (let s = 0; s < o.schools.length; s++) {
      const school = o.schools[s]!;
      for (let n = 1; n <= school.people.count; n++) {
        const p = planOf(o.seed, school, n, d, shape);
        const g = starts[s]! + n - 1;
        if (p.absent) {
          result.absent++;
          inSec[g] = -1;
          outSec[g] = -1;
          continue;
        }
        if (p.late) result.late++;
        if (p.fever) result.fever++;
        if (p.forgot) result.forgot++;
        inSec[g] = Math.floor(p.inMs / 1000);
        outSec[g] = p.outMs === null ? -1 : Math.floor(p.outMs / 1000);
      }
    }
    const held = new Map<string, { token: string; events: AttendanceEventBody[] }>();
    for (const phase of ["in", "out"] as const) {
      const order = timeline(phase === "in" ? inSec : outSec);
      const startMs = Date.now();
      o.onPhase?.({ dayIndex: d, phase, state: "start", atMs: startMs });
      const t0 = performance.now();
      // `sent` walks the timeline; `live` counts what went out now. The rate paces `live`:
      // an offline kiosk's event held for later takes no slot of the peak's rate (paced on
      // `sent`, a peak went out at 1,500 × its online share, ~1,425/s, and was measured so).
      let sent = 0;
      let live = 0;
      let lastLog = t0;
      const emit = (g: number) => {
        const s = schoolOf[g]!;
        const school = o.schools[s]!;
        const n = g - starts[s]! + 1;
        const p = planOf(o.seed, school, n, d, shape);
        const dayStart = dayBounds(o.days[s]![d]!, school.timeZone).startMs;
        const atMs = dayStart + (phase === "in" ? p.inMs : p.outMs!);
        // The check-out goes through the next kiosk along: a person does not always leave
        // by the door they came in.
        const kiosk = school.kiosks[(n + (phase === "in" ? 0 : 1)) % school.kiosks.length]!;
        const body: AttendanceEventBody = {
          eventId: randomUUID(),
          pollId: school.registerId,
          optionId: phase,
          voterId: personId(school.people, n),
          castAt: new Date(atMs).toISOString(),
          ...(phase === "in" && p.temperatureC !== null ? { temperatureC: p.temperatureC } : {}),
        };
        if (phase === "in" && offline.has(kiosk.id)) {
          const h = held.get(kiosk.id) ?? { token: kiosk.token, events: [] };
          h.events.push(body);
          held.set(kiosk.id, h);
          result.events.late++;
          return;
        }
        result.events[phase]++;
        live++;
        o.sender.add(kiosk.id, kiosk.token, body, Date.now());
      };
      for (;;) {
        const now = performance.now();
        const due = Math.floor(((now - t0) * o.rate) / 1000);
        while (live < due && sent < order.length && o.sender.open) emit(order[sent++]!);
        o.sender.flush(Date.now());
        if (sent >= order.length || o.shouldStop?.()) break;
        if (o.log && now - lastLog >= (o.progressIntervalMs ?? 5_000)) {
          lastLog = now;
          o.log(
            `day ${d + 1}/${dayCount} ${phase === "in" ? "morning" : "afternoon"}: ${sent}/${order.length} events, ${Math.round((live * 1000) / (now - t0))}/s, ${o.sender.inFlight} requests in flight`,
          );
        }
        await sleep(due - live > 0 ? 0 : 5);
      }
      o.sender.flush(Date.now(), true);
      const seconds = (performance.now() - t0) / 1000;
      result.phaseRates.push({ dayIndex: d, phase, events: live, seconds });
      o.onPhase?.({ dayIndex: d, phase, state: "end", atMs: Date.now(), events: live, seconds });
      if (o.shouldStop?.()) break;
    }
    // The offline kiosks come back: their morning, late, through the same endpoint.
    o.onPhase?.({ dayIndex: d, phase: "late", state: "start", atMs: Date.now() });
    let url = 0;
    for (const h of held.values()) o.sender.sendNow(h.token, h.events, url++, 500);
    const lateEvents = [...held.values()].reduce((n, h) => n + h.events.length, 0);
    o.log?.(
      `day ${d + 1}/${dayCount}: ${held.size} offline kiosks back, ${lateEvents} check-ins sent late`,
    );
    await o.sender.drain();
    o.onPhase?.({ dayIndex: d, phase: "late", state: "end", atMs: Date.now(), events: lateEvents });
    if (o.shouldStop?.()) break;
  }
  return result;
}

/** The people with an event (second ≥ 0), in order of that second (a counting sort). */
function timeline(sec: Int32Array): Uint32Array {
  const counts = new Uint32Array(86_400 + 2);
  let n = 0;
  for (let g = 0; g < sec.length; g++) {
    const s = sec[g]!;
    if (s < 0) continue;
    counts[Math.min(s, 86_400) + 1]!++;
    n++;
  }
  for (let i = 1; i < counts.length; i++) counts[i]! += counts[i - 1]!;
  const order = new Uint32Array(n);
  for (let g = 0; g < sec.length; g++) {
    const s = sec[g]!;
    if (s >= 0) order[counts[Math.min(s, 86_400)]!++] = g;
  }
  return order;
}
