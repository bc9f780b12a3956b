import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { migrate, migrationsDir } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import {
  assertAttendanceDaysMatchEvents,
  insertRegister,
  insertSchool,
} from "../test-support/presence-state.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { storeBatch } from "./store-batch.ts";

// A deployment whose writer stored register events before it kept their presence state
// (migration 019 without the upkeep): the migration that gave the state its replay columns
// marks their person-days dirty, and the writer computes them.

const logger = createLogger("silent");
const url = `${PG_BASE_URL}/${testNames().database}`;
let pool: Pool;
let oldDir: string;
let replayMigration: number;

before(async () => {
  const files = await readdir(migrationsDir);
  const replay = files.find((f) => f.endsWith("_attendance_days_replay.sql"));
  assert.ok(replay, "the replay migration exists");
  replayMigration = Number(replay.slice(0, 3));
  oldDir = await mkdtemp(join(tmpdir(), "tallyflow-before-replay-"));
  for (const file of files)
    if (/^\d{3}_/.test(file) && Number(file.slice(0, 3)) < replayMigration)
      await copyFile(join(migrationsDir, file), join(oldDir, file));
  await ensureDatabase(url);
  pool = createPool(url, logger, { max: 2, applicationName: "test" });
  await migrate(pool, logger, oldDir);
  await insertSchool(pool, "old", "Asia/Kathmandu");
  await insertRegister(pool, "old-gate", "old");
  await pool.query(`
    insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                       stream_seq, temperature_c)
    values ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a01', 'old-gate', 'in', 'k', 'ada',
            '2026-05-04T02:15:00Z', now(), 1, 37.2),
           ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a02', 'old-gate', 'out', 'k', 'ada',
            '2026-05-04T10:15:00Z', now(), 2, null),
           ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a03', 'old-gate', 'in', 'k', 'bo',
            '2026-05-04T18:20:00Z', now(), 3, null)`);
});

after(async () => {
  await pool?.end();
  await dropDatabase(url);
  await rm(oldDir, { recursive: true, force: true });
});

test("events stored before the state was kept: their person-days are marked, then computed", async () => {
  await migrate(pool, logger);
  // ada on the 4th; bo's 18:20 UTC is past midnight in Kathmandu: the 5th.
  const { rows } = await pool.query<{ person_id: string; day: string }>(
    "select person_id, day::text as day from attendance_dirty order by 1",
  );
  assert.deepEqual(rows, [
    { person_id: "ada", day: "2026-05-04" },
    { person_id: "bo", day: "2026-05-05" },
  ]);
  const result = await storeBatch(pool, "UPGRADE", [], [], 100);
  assert.equal(result.personDays, 2);
  const days = await assertAttendanceDaysMatchEvents(pool);
  assert.deepEqual(
    days.map((d) => [d.person, d.day, d.closedSeconds, d.maxTemperatureC]),
    [
      ["ada", "2026-05-04", 8 * 3600, 37.2],
      ["bo", "2026-05-05", 0, null],
    ],
  );
  assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 0);
});
