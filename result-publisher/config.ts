import { type CommonConfig, readCommonConfig } from "../common/config.ts";
import { type Env, readEnum, readHost, readInt, readOptionalString } from "../common/env.ts";
import { ConfigError } from "../common/errors.ts";
import { readRegisterCompletionGraceMs } from "../common/register-contract.ts";
import { isRecurringCron } from "./cron.ts";
import { DEFAULT_LOCK_QUERY_TIMEOUT_MS } from "./leader.ts";

export interface PublisherConfig extends CommonConfig {
  /** node-schedule cron (with seconds) derived from the interval, or RESULTS_CRON. */
  readonly schedule: string;
  /** Chart size in pixels. @defaultValue 1200 × 900 */
  readonly chartWidth: number;
  readonly chartHeight: number;
  /** Port of the publisher's /metrics; 0 = none. @defaultValue 9102 */
  readonly metricsPort: number;
  /** Address the /metrics server listens on (0.0.0.0 to reach it from another host). @defaultValue 127.0.0.1 */
  readonly metricsHost: string;
  readonly shutdownDeadlineMs: number;
  /** The distribution covers at most this many hours, ending at the asOf bucket. @defaultValue 48 */
  readonly distributionWindowHours: number;
  /** A poll's chart is drawn while it was read within this time. @defaultValue 60000 */
  readonly chartDemandTtlMs: number;
  /** `demand`: draw charts of polls being read; `all`: of every changed poll. @defaultValue demand */
  readonly chartRender: "demand" | "all";
  /** Worker threads drawing charts in this process (leader or standby). @defaultValue 1 */
  readonly chartWorkers: number;
  /** A chart render not done within this ends its worker thread and fails. @defaultValue 20000 */
  readonly chartRenderTimeoutMs: number;
  /** Bound on connecting and on each query of the leader's lock session. @defaultValue 2000 */
  readonly leaderLockTimeoutMs: number;
  /** School day documents built from reads per run at most, today's first; the rest wait for the next runs. @defaultValue 100 */
  readonly attendanceMaxDocumentsPerRun: number;
  /** Longest time since the last run for which the kept todays are brought up to date from the changed rows; beyond, built from reads again. @defaultValue 60000 */
  readonly attendanceKeptTodayMaxGapMs: number;
  /** Lesson registers' documents (register-publisher.ts). */
  readonly registers: {
    /** REGISTER_DAYS_KEPT. @defaultValue 7 */
    readonly daysKept: number;
    /** REGISTER_MAX_DOCUMENTS_PER_RUN. @defaultValue 10000 */
    readonly maxDocumentsPerRun: number;
    /** REGISTER_COMPLETION_GRACE_MS. @defaultValue 600000 */
    readonly completionGraceMs: number;
    /** REGISTER_OVERDUE_RECOUNT_MS: the overdue gauge's count at most this often. @defaultValue 60000 */
    readonly overdueRecountMs: number;
  };
}

/** The default distribution window: two days of exact 10-minute buckets (288). */
export const DEFAULT_DISTRIBUTION_WINDOW_HOURS = 48;

/** A cron rule for node-schedule that fires every `intervalMs` (whole seconds dividing a minute, or whole minutes dividing an hour). */
export function cronForInterval(intervalMs: number): string | undefined {
  if (intervalMs % 1000 !== 0) return undefined;
  const seconds = intervalMs / 1000;
  if (seconds < 60 && 60 % seconds === 0) return `*/${seconds} * * * * *`;
  if (seconds % 60 === 0 && 60 % (seconds / 60) === 0) return `0 */${seconds / 60} * * * *`;
  if (seconds === 3600) return "0 0 * * * *";
  return undefined;
}

export function readPublisherConfig(env: Env = process.env): Readonly<PublisherConfig> {
  const common = readCommonConfig(env);
  const { resultsIntervalMs } = common;
  const cron = readOptionalString(env, "RESULTS_CRON");
  if (cron !== undefined && !/^(\S+\s+){4,5}\S+$/.test(cron))
    throw new ConfigError(
      "RESULTS_CRON",
      `must be a cron expression of 5 or 6 fields, got "${cron}"`,
    );
  // Five or six fields is not enough: node-schedule reads a rule it cannot parse as a date
  // and then runs once, or never (the publisher would stop after its first run, silently).
  if (cron !== undefined && !isRecurringCron(cron))
    throw new ConfigError(
      "RESULTS_CRON",
      `is not a cron rule node-schedule can run (fields: second minute hour day-of-month month day-of-week), got "${cron}"`,
    );
  const schedule = cron ?? cronForInterval(resultsIntervalMs);
  if (schedule === undefined)
    throw new ConfigError(
      "RESULTS_INTERVAL_MS",
      `must be whole seconds dividing a minute or whole minutes dividing an hour (or set RESULTS_CRON), got ${resultsIntervalMs}`,
    );
  return Object.freeze({
    ...common,
    schedule,
    chartWidth: readInt(env, "CHART_WIDTH", 1200, { min: 320, max: 4096 }),
    chartHeight: readInt(env, "CHART_HEIGHT", 900, { min: 240, max: 4096 }),
    metricsPort: readInt(env, "PUBLISHER_METRICS_PORT", 9102, { min: 0, max: 65535 }),
    metricsHost: readHost(env, "PUBLISHER_METRICS_HOST", "127.0.0.1"),
    shutdownDeadlineMs: readInt(env, "SHUTDOWN_DEADLINE_MS", 10_000, { min: 100 }),
    // 1 h .. 31 days: beyond a month the document is the size the window exists to prevent.
    distributionWindowHours: readInt(
      env,
      "DISTRIBUTION_WINDOW_HOURS",
      DEFAULT_DISTRIBUTION_WINDOW_HOURS,
      { min: 1, max: 744 },
    ),
    chartDemandTtlMs: readInt(env, "CHART_DEMAND_TTL_MS", 60_000, {
      min: 1_000,
      max: 86_400_000,
    }),
    chartRender: readEnum(env, "CHART_RENDER", ["demand", "all"] as const, "demand"),
    chartWorkers: readInt(env, "CHART_WORKERS", 1, { min: 0, max: 16 }),
    // A render is 50-200 ms, a new thread's start (Chart.js, Skia) a few seconds on a loaded
    // box: past this the thread is stuck, and its loop would draw nothing more.
    chartRenderTimeoutMs: readInt(env, "CHART_RENDER_TIMEOUT_MS", 20_000, {
      min: 1_000,
      max: 600_000,
    }),
    leaderLockTimeoutMs: readInt(env, "LEADER_LOCK_TIMEOUT_MS", DEFAULT_LOCK_QUERY_TIMEOUT_MS, {
      min: 100,
      max: 60_000,
    }),
    attendanceMaxDocumentsPerRun: readInt(env, "ATTENDANCE_MAX_DOCUMENTS_PER_RUN", 100, {
      min: 1,
      max: 100_000,
    }),
    attendanceKeptTodayMaxGapMs: readInt(env, "ATTENDANCE_KEPT_TODAY_MAX_GAP_MS", 60_000, {
      min: 0,
      max: 3_600_000,
    }),
    registers: Object.freeze({
      daysKept: readInt(env, "REGISTER_DAYS_KEPT", 7, { min: 1, max: 366 }),
      // Not the limit at a national morning (~580 completions a second): a run of 10,000
      // takes ~18 s on a loaded 2-core box (BENCHMARKS.md, lesson registers), so the runs
      // follow the writer instead of 200 documents a second at 1,000; it bounds what a run
      // holds in memory (~1 kB a document).
      maxDocumentsPerRun: readInt(env, "REGISTER_MAX_DOCUMENTS_PER_RUN", 10_000, {
        min: 1,
        max: 1_000_000,
      }),
      completionGraceMs: readRegisterCompletionGraceMs(env),
      // The count of the overdue scans the kept window's registers (~0.3 s at 350,000 on a
      // loaded 2-core box, BENCHMARKS.md): every run would make the window's size what an
      // idle run costs, which the change log avoids for everything else.
      overdueRecountMs: readInt(env, "REGISTER_OVERDUE_RECOUNT_MS", 60_000, {
        min: 0,
        max: 3_600_000,
      }),
    }),
  });
}
