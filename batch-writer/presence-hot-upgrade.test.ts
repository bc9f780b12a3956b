import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { migrate, migrationsDir } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { loadPeoplePresence } from "../ingest-api/attendance/attendance-reads-store.ts";
import { loadAttendanceChangeLog } from "../result-publisher/attendance-store.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { insertRegister, insertSchool } from "../test-support/presence-state.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { settlePastDays } from "./presence-upkeep.ts";
import { storeBatch } from "./store-batch.ts";

// A deployment upgraded to the heap-only attendance_days (migration 025) with rows in it:
// past days come out settled (the period read takes them from the index), recent ones not
// (read from their rows), and the school-days written before it are in the change log (since
// migration 051, which cannot know a publisher's cursor, all of them: none is lost).

const logger = createLogger("silent");
const url = `${PG_BASE_URL}/${testNames().database}`;
let pool: Pool;
let oldDir: string;

const dayOffset = async (days: number) =>
  (await pool.query<{ day: string }>("select (current_date + $1::int)::text as day", [days]))
    .rows[0]!.day;

before(async () => {
  const files = await readdir(migrationsDir);
  const hot = files.find((f) => f.endsWith("_attendance_days_hot_updates.sql"));
  assert.ok(hot, "the heap-only migration exists");
  const hotMigration = Number(hot.slice(0, 3));
  oldDir = await mkdtemp(join(tmpdir(), "tallyflow-before-hot-"));
  for (const file of files)
    if (/^\d{3}_/.test(file) && Number(file.slice(0, 3)) < hotMigration)
      await copyFile(join(migrationsDir, file), join(oldDir, file));
  await ensureDatabase(url);
  pool = createPool(url, logger, { max: 2, applicationName: "test" });
  await migrate(pool, logger, oldDir);
  await insertSchool(pool, "old", "Europe/London");
  // A month ago (settled by the migration), then today and yesterday (not settled: a
  // school's today, in some zone, may be either).
  await pool.query(`
    insert into attendance_days (school_id, person_id, day, closed_seconds, closed_ms, open_since)
    values ('old', 'ada', current_date - 30, 3600, 3600000, null),
           ('old', 'bo', current_date - 30, 0, 0, now() - interval '30 days')`);
  await pool.query(`
    insert into attendance_days (school_id, person_id, day, closed_seconds, closed_ms, open_since)
    values ('old', 'ada', current_date, 60, 60000, now()),
           ('old', 'ada', current_date - 1, 120, 120000, null)`);
});

after(async () => {
  await pool?.end();
  await dropDatabase(url);
  await rm(oldDir, { recursive: true, force: true });
});

test("past rows settled, recent ones read from their rows; the change log starts with the rows' writes", async () => {
  await migrate(pool, logger);
  const from = await dayOffset(-40);
  const today = await dayOffset(0);
  const { rows: settled } = await pool.query<{ person_id: string; settled: number | null }>(
    "select person_id, settled_closed_seconds as settled from attendance_days order by day, person_id",
  );
  assert.deepEqual(
    settled.map((r) => r.settled),
    [3600, 0, null, null],
  );
  const presence = await loadPeoplePresence(pool, "old", ["ada", "bo"], from, today);
  assert.deepEqual(
    presence
      .map((p) => [p.personId, p.day, p.closedSeconds, p.openSinceMs !== null])
      .sort(
        (a, b) =>
          String(a[1]).localeCompare(String(b[1])) || String(a[0]).localeCompare(String(b[0])),
      ),
    [
      ["ada", await dayOffset(-30), 3600, false],
      ["bo", await dayOffset(-30), 0, true],
      ["ada", await dayOffset(-1), 120, false],
      ["ada", today, 60, true],
    ],
  );
  const changed = await loadAttendanceChangeLog(pool);
  assert.deepEqual(
    changed.days.map((c) => c.day).sort(),
    [await dayOffset(-30), await dayOffset(-1), today],
    "every school-day written before the upgrade",
  );
});

test("the idle writer settles days once they are over; a late event keeps the settled copy equal", async () => {
  await pool.query(
    "update attendance_days set day = day - 5 where person_id = 'ada' and day = current_date - 1",
  );
  const signal = new AbortController().signal;
  assert.equal(await settlePastDays(pool, 10, 5_000, signal), 1);
  assert.equal(
    await queryNumber(
      pool,
      "select count(*) from attendance_days where settled_closed_seconds is null",
    ),
    1,
    "today's row is not settled",
  );
  assert.equal(await settlePastDays(pool, 10, 5_000, signal), 0);

  // Events of a past day: the row is written, then settled; a late check-in before its
  // check-out (out of order) rewrites it, settled copy included.
  await insertRegister(pool, "old-gate", "old");
  const day = await dayOffset(-10);
  const at = (hhmm: string) => new Date(`${day}T${hhmm}:00Z`);
  let seq = 0;
  const store = (votes: ReturnType<typeof makeVote>[]) =>
    storeBatch(
      pool,
      "UPGRADE",
      votes.map((v) => ({ ...v, streamSeq: ++seq })),
      [],
      10,
    );
  await store([
    makeVote({ pollId: "old-gate", optionId: "out", voterId: "cy", castAt: at("15:00") }),
  ]);
  assert.equal(await settlePastDays(pool, 10, 5_000, signal), 1);
  await store([
    makeVote({ pollId: "old-gate", optionId: "in", voterId: "cy", castAt: at("09:00") }),
  ]);
  const { rows } = await pool.query<{ closed: number; settled: number | null }>(
    `select closed_seconds as closed, settled_closed_seconds as settled from attendance_days
     where person_id = 'cy'`,
  );
  assert.deepEqual(rows, [{ closed: 6 * 3600, settled: 6 * 3600 }]);
});
