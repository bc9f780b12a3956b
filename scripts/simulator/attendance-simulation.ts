import type { LocalDay } from "../../common/attendance/school-day.ts";
import { AdminClient } from "./admin-client.ts";
import { SCHOOL_DAY } from "./attendance-day.ts";
import { attendanceSchools, pastSchoolDays } from "./attendance-registers.ts";
import { type AttendanceRunResult, runAttendanceDays } from "./attendance-run.ts";
import { type AttendanceEventBody, AttendanceSender } from "./attendance-sender.ts";
import type { SeededKiosk, SeededSchool } from "./kiosk-file.ts";
import { openRun, writeRunMeta } from "./run-file.ts";
import { fmtInt, fmtMs } from "./stats.ts";

// `npm run simulate -- --attendance-days N`: the schools of the kiosk file (with their
// rosters) get a register at the door and live N past school days (attendance-run.ts):
// arrivals around the bell with a late tail, check-outs in the afternoon, ~5 % absent, a
// few who forget to check out, a few fevers, kiosks offline for the morning whose queue is
// sent late. Every eventId that got a 202 goes to the run file, and the run file names the
// school-days, so that `npm run verify` checks the events and the published day documents.

/** The most days a run plays: the oldest stays among the documents' 7 kept days. */
export const MAX_ATTENDANCE_DAYS = 4;

export interface AttendanceSimulationOptions {
  urls: string[];
  adminToken: string;
  kioskFile: string;
  kiosks: SeededKiosk[];
  schools: SeededSchool[];
  days: number;
  rate: number;
  batch: number;
  lingerMs: number;
  offline: number;
  connections: number;
  maxInFlight: number;
  runDir: string;
  seed: number;
  command: string;
  log: (line: string) => void;
  progressIntervalMs: number;
  shouldStop?: () => boolean;
}

/** What the run file keeps of an attendance run (meta.options.attendance): verify reads it. */
export interface AttendanceRunRecord {
  /** School id → its days played (school-local), oldest first. */
  days: Record<string, LocalDay[]>;
  registers: Record<string, string>;
}

export interface AttendanceSimSummary {
  runFile: string;
  schools: number;
  people: number;
  days: number;
  kiosks: number;
  eventsSent: number;
  accepted: number;
  duplicates: number;
  refused: number;
  refusedByCode: Record<string, number>;
  uncertain: number;
  eventsPerSecond: number;
  requests: number;
  latencyMs: { p50: number; p99: number };
  plan: Omit<AttendanceRunResult, "phaseRates" | "offlineKiosks"> & { offlineKiosks: number };
  seconds: number;
}

const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;

export async function simulateAttendance(
  o: AttendanceSimulationOptions,
): Promise<AttendanceSimSummary> {
  const admin = new AdminClient(o.urls[0]!, o.adminToken);
  const { schools, skipped } = await attendanceSchools(admin, o.schools, o.kiosks);
  for (const line of skipped) o.log(`skipped: ${line}`);
  if (schools.length === 0)
    throw new Error("no school with a roster and a kiosk (npm run seed -- --schools N --people M)");
  const nowMs = Date.now();
  const days = schools.map((s) => pastSchoolDays(nowMs, s.timeZone, o.days));
  const startedAt = new Date();
  const run = await openRun(o.runDir);
  const uncertain: string[] = [];
  const refusedByCode: Record<string, number> = {};
  let accepted = 0;
  let duplicates = 0;
  let refused = 0;
  const latencies: number[] = [];
  const sender = new AttendanceSender({
    urls: o.urls,
    batch: o.batch,
    lingerMs: o.lingerMs,
    connections: o.connections,
    maxInFlight: o.maxInFlight,
    hooks: {
      accepted(body: AttendanceEventBody, duplicate: boolean) {
        if (duplicate) duplicates++;
        else accepted++;
        run.ids.add(body.eventId);
      },
      refused(_body, code) {
        refused++;
        refusedByCode[code] = (refusedByCode[code] ?? 0) + 1;
      },
      uncertain(body) {
        uncertain.push(body.eventId);
      },
    },
  });
  const t0 = performance.now();
  let result: AttendanceRunResult;
  try {
    o.log(
      `attendance: ${schools.length} schools, ${fmtInt(schools.reduce((n, s) => n + s.people.count, 0))} people, ${o.days} day(s) (${[...new Set(days.flat())].sort().join(", ")}), ${fmtInt(o.rate)} events/s`,
    );
    result = await runAttendanceDays({
      schools,
      days,
      rate: o.rate,
      seed: o.seed,
      offline: o.offline,
      shape: SCHOOL_DAY,
      sender,
      log: o.log,
      progressIntervalMs: o.progressIntervalMs,
      shouldStop: o.shouldStop,
    });
    await sender.drain();
    latencies.push(...sender.takeLatencies());
  } finally {
    await sender.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  await run.ids.close();
  const eventsSent = result.events.in + result.events.out + result.events.late;
  latencies.sort((a, b) => a - b);
  const summary: AttendanceSimSummary = {
    runFile: run.metaPath,
    schools: schools.length,
    people: schools.reduce((n, s) => n + s.people.count, 0),
    days: o.days,
    kiosks: schools.reduce((n, s) => n + s.kiosks.length, 0),
    eventsSent,
    accepted,
    duplicates,
    refused,
    refusedByCode,
    uncertain: uncertain.length,
    eventsPerSecond: eventsSent / seconds,
    requests: sender.requests,
    latencyMs: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) },
    plan: {
      events: result.events,
      absent: result.absent,
      late: result.late,
      forgot: result.forgot,
      fever: result.fever,
      offlineKiosks: result.offlineKiosks.length,
    },
    seconds,
  };
  const record: AttendanceRunRecord = {
    days: Object.fromEntries(schools.map((s, i) => [s.id, days[i]!])),
    registers: Object.fromEntries(schools.map((s) => [s.id, s.registerId])),
  };
  await writeRunMeta(run.metaPath, {
    version: 1,
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    apiUrls: o.urls,
    kioskFile: o.kioskFile,
    command: o.command,
    options: { attendance: record, rate: o.rate, offline: o.offline, seed: o.seed },
    kioskIds: schools.flatMap((s) => s.kiosks.map((k) => k.id)),
    pollIds: schools.map((s) => s.registerId),
    eventIdsFile: run.ids.path.split("/").at(-1)!,
    eventIdCount: run.ids.count,
    uncertainEventIds: uncertain,
    summary,
  });
  return summary;
}

export function attendanceSummaryTable(s: AttendanceSimSummary): string {
  const refused = Object.entries(s.refusedByCode)
    .map(([c, n]) => `${c} ${fmtInt(n)}`)
    .join(", ");
  const rows: [string, string][] = [
    ["schools / people / days", `${fmtInt(s.schools)} / ${fmtInt(s.people)} / ${s.days}`],
    ["kiosks (offline in the morning)", `${fmtInt(s.kiosks)} (${s.plan.offlineKiosks})`],
    [
      "events: check-ins / check-outs / sent late",
      `${fmtInt(s.plan.events.in)} / ${fmtInt(s.plan.events.out)} / ${fmtInt(s.plan.events.late)}`,
    ],
    [
      "person-days: absent / late / forgot to check out / fever",
      `${fmtInt(s.plan.absent)} / ${fmtInt(s.plan.late)} / ${fmtInt(s.plan.forgot)} / ${fmtInt(s.plan.fever)}`,
    ],
    ["accepted / duplicate", `${fmtInt(s.accepted)} / ${fmtInt(s.duplicates)}`],
    ["refused", s.refused === 0 ? "0" : `${fmtInt(s.refused)} (${refused})`],
    ["sent, no answer (may be stored)", fmtInt(s.uncertain)],
    ["events/s (whole run)", fmtInt(s.eventsPerSecond)],
    [
      "batch requests, p50 / p99",
      `${fmtInt(s.requests)}, ${fmtMs(s.latencyMs.p50)} / ${fmtMs(s.latencyMs.p99)}`,
    ],
    ["seconds", s.seconds.toFixed(1)],
  ];
  return `| attendance run | |\n| --- | --- |\n${rows.map(([a, b]) => `| ${a} | ${b} |`).join("\n")}\n`;
}
