import { isLocalDay } from "../common/attendance/school-day.ts";
import { readCommonConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { createPool } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import {
  DocumentsNotReadableError,
  formatDocumentReconciliation,
  reconcileAttendanceDocuments,
} from "./checks/attendance-documents.ts";
import {
  formatAttendanceReconciliation,
  reconcileAttendanceDays,
  UnknownSchoolError,
} from "./checks/attendance-reconcile.ts";
import { formatReconciliation, reconcile } from "./checks/reconcile.ts";
import { CliError, intFlag, readCli } from "./cli.ts";

// `npm run reconcile`: compares every poll's published totals in Redis with a direct
// count over `votes`, and every school's attendance_days (the writer's presence state) with
// the same state computed from scratch over the raw events (migration 022), and every
// published attendance day document (counts, lists and details, per school and group) with
// the same day computed from scratch over the raw events (migration 022's functions).
// Attendance registers have no vote results: the vote check skips them and says so. Prints
// each difference; exits 1 if there is any. A poll whose results are hidden (after_close)
// publishes no counts, so it is reported, not compared. Run it when the pipeline is idle
// (or expect differences of at most one interval, or one writer batch).

const day = (name: string, text: string | undefined) => {
  if (text !== undefined && !isLocalDay(text))
    throw new CliError(`--${name} must be a day, YYYY-MM-DD, got "${text}"`);
  return text;
};

const scope = readCli(
  {
    usage: `usage: npm run reconcile [-- --school ID] [--from DAY] [--to DAY] [--show N]
  compares every poll's published totals in Redis with a count over votes, and the
  writer's attendance_days with the presence state computed from the events, and every
  published attendance day document (kept days) with the day computed from the events;
  exit 1 on a difference
  --school  attendance of this school only (default: every school with a register)
  --from    attendance days from this school-local day (YYYY-MM-DD; default: the first)
  --to      up to the day before this one (default: the last)
  --show    differing person-days listed per school, and differing lines per school-day
            document (default 20; all are counted)
env: DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX, ATTENDANCE_DAYS_KEPT`,
    options: {
      school: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      show: { type: "string", default: "20" },
    },
  },
  ({ values }) => ({
    schoolId: values.school,
    from: day("from", values.from),
    to: day("to", values.to),
    listed: intFlag("show", values.show, { min: 0, max: 10_000 }),
  }),
);
const config = configOrExit(() => readCommonConfig(process.env));
const logger = createLogger("warn", { service: "reconcile" });
const pool = createPool(config.databaseUrl, logger, { max: 1, applicationName: "reconcile" });
const redis = await connectRedis(config.redisUrl, logger, "reconcile");
try {
  const result = await reconcile(pool, redis, config.redisKeyPrefix);
  process.stdout.write(formatReconciliation(result));
  const attendance = await reconcileAttendanceDays(pool, scope).catch((err: unknown) => {
    if (!(err instanceof UnknownSchoolError)) throw err;
    process.stderr.write(`--school: ${err.message}\n`);
    return null;
  });
  if (attendance === null) process.exitCode = 2;
  else {
    process.stdout.write(formatAttendanceReconciliation(attendance));
    const documents = await reconcileAttendanceDocuments(pool, redis, config.redisKeyPrefix, {
      ...scope,
      daysKept: config.attendanceDaysKept,
    }).catch((err: unknown) => {
      if (!(err instanceof DocumentsNotReadableError)) throw err;
      process.stderr.write(`attendance documents not compared: ${err.message}\n`);
      return null;
    });
    if (documents === null) process.exitCode = 2;
    else {
      process.stdout.write(formatDocumentReconciliation(documents));
      const differences = result.differences + attendance.differences + documents.differences;
      process.exitCode = differences === 0 ? 0 : 1;
    }
  }
} finally {
  await redis.close();
  await pool.end();
}
