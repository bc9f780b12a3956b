import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { after, before, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { localInstant } from "../common/attendance/school-day.ts";
import {
  type AttendanceDayDocument,
  attendanceCursorKey,
  attendanceDayKeys,
  keptDays,
} from "../common/attendance-contract.ts";
import { createLogger } from "../common/logger.ts";
import { migrationsDir } from "../common/migrate.ts";
import type { Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { AttendancePublisher } from "../result-publisher/attendance-publisher.ts";
import { createPublisherMetrics } from "../result-publisher/publisher-metrics.ts";
import { testNames } from "../test-support/names.ts";
import { insertRegister, insertSchool } from "../test-support/presence-state.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { keepPresence } from "./presence-upkeep.ts";
import { storeBatch } from "./store-batch.ts";

// A deployment at 049/050 upgraded to attendance's change log without transaction ids
// (migration 051) with changes its publisher had not published yet: a school-day the writer
// wrote (attendance_day_changes with its tx_id) and a school whose roster changed
// (attendance_school_changes). Redis holds the old publisher's documents, none showing those
// changes, and its snapshot cursor. After the upgrade the new publisher, which takes Redis's
// documents as published (the old cursor is its marker), republishes exactly the changed ones,
// and the writer's next batch goes on through the new log.

const logger = createLogger("silent");
const names = testNames();
const prefix = names.redisKeyPrefix;
const DAYS_KEPT = 3;
let before051: DatabaseBefore;
let pool: Pool;
let redis: RedisClient;
const nowMs = Date.now();
const [today, yesterday] = keptDays(nowMs, "UTC", DAYS_KEPT) as [string, string, string];
let seq = 0;
const store = (votes: ReturnType<typeof makeVote>[]) =>
  storeBatch(
    pool,
    "UPGRADE",
    votes.map((v) => ({ ...v, streamSeq: ++seq })),
    [],
    10,
  );
const at = (day: string, hhmm: string) => new Date(localInstant(day, hhmm, "UTC"));

/**
 * A batch of check-ins and check-outs as the writer at 049/050 stored it: the events, then
 * their person-days (attendance_keep_days of that schema: tx_id, the old log), in one
 * transaction. Today's storeBatch writes the vote results' log of a later schema (053).
 */
async function storeBefore(events: { person: string; kind: "in" | "out"; at: Date }[]) {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const eventIds = events.map(() => uuidv7());
    await client.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                          stream_seq)
       select u.event_id, 'old-gate', u.kind, 'k', u.person, u.cast_at, now(), $5 + u.n
       from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
         with ordinality as u(event_id, kind, person, cast_at, n)`,
      [
        eventIds,
        events.map((e) => e.kind),
        events.map((e) => e.person),
        events.map((e) => e.at),
        seq,
      ],
    );
    seq += events.length;
    await keepPresence(
      client,
      {
        pollIds: events.map(() => "old-gate"),
        personIds: events.map((e) => e.person),
        kinds: events.map((e) => e.kind),
        castAts: events.map((e) => e.at.toISOString()),
        eventIds,
        temperatures: events.map(() => null),
      },
      0,
    );
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

before(async () => {
  const logMigration = (await readdir(migrationsDir)).find((f) =>
    f.endsWith("_attendance_change_log.sql"),
  );
  assert.ok(logMigration, "the change log migration exists");
  before051 = await databaseBefore(Number(logMigration.slice(0, 3)), names.database);
  pool = before051.pool;
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  await pool.query("delete from schools where id = 'default'");
  await insertSchool(pool, "old", "UTC");
  await insertSchool(pool, "other", "UTC");
  await insertRegister(pool, "old-gate", "old");
  // Published by the old publisher (below, in Redis), then marked as seen by it: the log as a
  // 049 publisher leaves it is not emptied, so this is what it held before the changes.
  await pool.query("truncate attendance_day_changes, attendance_school_changes");
  // The changes not published yet: a batch of the writer at 049, a roster change of `other`.
  await storeBefore([
    { person: "ada", kind: "in", at: at(yesterday, "08:00") },
    { person: "ada", kind: "out", at: at(yesterday, "15:00") },
  ]);
  await pool.query(
    "insert into people (school_id, id, name, groups, active) values ('other', 'O1', 'Ola', '{}', true)",
  );
  // Redis as the old publisher left it: every kept day published before those changes, and
  // its snapshot cursor.
  for (const school of ["old", "other"])
    for (const day of keptDays(nowMs, "UTC", DAYS_KEPT)) {
      const over = nowMs >= localInstant(day, "17:00", "UTC");
      await redis.set(attendanceDayKeys(prefix, school, day).version, over ? "old-c" : "old");
    }
  await redis.set(attendanceCursorKey(prefix), "1000:1000:");
});

after(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis?.close();
  await before051?.close();
});

test("changes pending at the upgrade are in the new log and published; none is lost", async () => {
  await before051.upgrade();
  assert.equal(
    await queryNumber(
      pool,
      `select count(*) from information_schema.columns
       where table_name in ('attendance_days', 'attendance_day_changes') and column_name = 'tx_id'`,
    ),
    0,
    "no transaction id left in the attendance tables",
  );
  const { rows: days } = await pool.query<{ k: string }>(
    "select school_id || '/' || day::text as k from attendance_day_changes",
  );
  assert.deepEqual(
    days.map((r) => r.k),
    [`old/${yesterday}`],
  );
  const { rows: schools } = await pool.query<{ school_id: string }>(
    "select school_id from attendance_school_change_log",
  );
  assert.deepEqual(
    schools.map((r) => r.school_id),
    ["other"],
  );

  const publisher = new AttendancePublisher({
    pool,
    redis,
    keyPrefix: prefix,
    daysKept: DAYS_KEPT,
    maxDocumentsPerRun: 100,
    logger,
    metrics: createPublisherMetrics(),
  });
  const first = await publisher.run(nowMs);
  assert.deepEqual(
    first.published.toSorted(),
    [`old/${yesterday}`, ...keptDays(nowMs, "UTC", DAYS_KEPT).map((d) => `other/${d}`)].sort(),
    "the changed school-day and the changed school's kept days, nothing else",
  );
  const doc = JSON.parse(
    (await redis.get(attendanceDayKeys(prefix, "old", yesterday).json)) ?? "null",
  ) as AttendanceDayDocument;
  assert.equal(doc.counts.present, 1, "ada's 7 hours");
  assert.equal(await queryNumber(pool, "select count(*) from attendance_day_changes"), 0);
  assert.equal(await queryNumber(pool, "select count(*) from attendance_school_change_log"), 0);

  // The writer at 051: its batch is logged with its change id and published by the next run.
  await store([
    makeVote({ pollId: "old-gate", optionId: "in", voterId: "bo", castAt: at(today, "00:30") }),
  ]);
  assert.equal(
    await queryNumber(
      pool,
      `select count(*) from attendance_days a join attendance_day_changes c
         on c.school_id = a.school_id and c.day = a.day and c.change_id = a.change_id
       where a.person_id = 'bo'`,
    ),
    1,
    "the row and its school-day's log row carry the batch's change id",
  );
  assert.deepEqual((await publisher.run(nowMs)).published, [`old/${today}`]);
});
