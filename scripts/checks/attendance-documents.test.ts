import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type AttendanceDayDocument, attendanceDayKeys } from "../../common/attendance-contract.ts";
import { readAttendanceDay } from "../../common/attendance-day-read.ts";
import { createLogger } from "../../common/logger.ts";
import { connectRedis, type RedisClient } from "../../common/redis.ts";
import { killChildren, runNode } from "../../harness/child-processes.ts";
import { AttendancePublisher } from "../../result-publisher/attendance-publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { personDays } from "../../sql/reports/attendance-reference.ts";
import {
  buildAttendanceDataset,
  NOW,
  seedAttendanceDataset,
} from "../../test-support/attendance-dataset.ts";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { pendingChangesNow, waitForAttendancePublisher } from "./attendance-caught-up.ts";
import {
  formatDocumentReconciliation,
  reconcileAttendanceDocuments,
} from "./attendance-documents.ts";

// `npm run reconcile`'s check of the published day documents: the real publisher publishes
// them from attendance_days (written here as the writer keeps it, from each person-day's
// events), and the check computes the same days from scratch over the raw events with
// migration 022. Faithful documents agree; a tampered one is found, named and fails the
// script.

const data = buildAttendanceDataset();
const SCHOOLS = ["ktm", "north", "weekend"];
const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("reconcile: published attendance documents against the events", () => {
  let db: TestDatabase;
  let redis: RedisClient;
  const publisher = (daysKept: number) =>
    new AttendancePublisher({
      pool: db.pool,
      redis,
      keyPrefix: prefix,
      daysKept,
      maxDocumentsPerRun: 1_000,
      logger,
      metrics: createPublisherMetrics(),
    });

  before(async () => {
    db = await createTestDatabase(names.database);
    await seedAttendanceDataset(db.pool, data);
    for (const school of SCHOOLS)
      for (const x of personDays(data, school, { from: "0001-01-01", to: "9999-12-31" }, NOW))
        await db.pool.query(
          `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in,
             last_out, open_since, max_temperature_c, outs_without_in, double_ins, double_outs,
             events)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            school,
            x.personId,
            x.day,
            x.state.closedSeconds,
            iso(x.state.firstInMs),
            iso(x.state.lastOutMs),
            iso(x.state.openSinceMs),
            x.state.maxTemperatureC,
            x.state.outsWithoutIn,
            x.state.doubleIns,
            x.state.doubleOuts,
            x.state.events,
          ],
        );
    redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  });
  after(async () => {
    await killChildren();
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.unlink(keys);
    await redis?.close();
    await db?.drop();
  });

  test("documents published at the data set's instant agree; a tampered one is named", async () => {
    await publisher(7).run(NOW);
    const scope = { daysKept: 7, listed: 20, nowMs: NOW };
    const r = await reconcileAttendanceDocuments(db.pool, redis, prefix, scope);
    assert.deepEqual(
      r.schools.map((s) => [s.schoolId, s.days, s.differences.length]),
      SCHOOLS.map((s) => [s, 7, 0]),
    );
    assert.equal(r.differences, 0);
    assert.match(formatDocumentReconciliation(r), /every published attendance document agrees/);

    // The data set's days are not empty: the check compared people, not zeros.
    const doc = (await readAttendanceDay(redis, prefix, "north", "2026-10-28"))!;
    assert.ok(doc.counts.present > 0 && doc.lists.absent.length + doc.lists.out.length > 0);

    // Tamper: one count up, one person moved from a list to another, a group's count.
    const tampered: AttendanceDayDocument = structuredClone(doc);
    tampered.counts.present += 1;
    const moved = doc.lists.inNow[0] ?? doc.lists.out[0]!;
    for (const k of ["inNow", "out"] as const)
      tampered.lists[k] = tampered.lists[k].filter((id) => id !== moved);
    tampered.lists.absent = [...tampered.lists.absent, moved].sort();
    const group = Object.keys(tampered.groups)[0]!;
    tampered.groups[group]!.counts.late += 2;
    await redis.set(
      attendanceDayKeys(prefix, "north", "2026-10-28").json,
      JSON.stringify(tampered),
    );

    const bad = await reconcileAttendanceDocuments(db.pool, redis, prefix, scope);
    assert.equal(bad.differences, 1);
    const north = bad.schools.find((s) => s.schoolId === "north")!;
    assert.equal(north.differences[0]!.day, "2026-10-28");
    const lines = north.differences[0]!.lines;
    assert.ok(
      lines.includes(
        `counts.present: published ${doc.counts.present + 1}, computed ${doc.counts.present}`,
      ),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => l.startsWith("lists.absent: 1 too many") && l.includes(moved)));
    assert.ok(lines.some((l) => /^lists\.(inNow|out): lacks 1/.test(l) && l.includes(moved)));
    assert.ok(lines.some((l) => l.startsWith(`groups.${group}.counts.late: published`)));
    const text = formatDocumentReconciliation(bad);
    assert.match(text, /attendance documents north: DIFFERS \(1 of 7 days\)\n {2}2026-10-28:\n/);
    assert.match(text, /1 school-day document\(s\) differ from the events\n$/);

    // A day with no document is reported, not skipped.
    await redis.del(attendanceDayKeys(prefix, "ktm", "2026-10-27").json);
    const missing = await reconcileAttendanceDocuments(db.pool, redis, prefix, {
      ...scope,
      schoolId: "ktm",
    });
    assert.match(formatDocumentReconciliation(missing), /\n {2}2026-10-27: not published\n/);
  });

  test("npm run reconcile passes on today's documents and exits 1 on a tampered one", async () => {
    // Today's kept days (the script judges the kept days of the real clock); the data set's
    // one vote poll is left out, its results are not what this test publishes.
    await db.pool.query(
      "delete from votes where poll_id in (select id from polls where kind = 'vote')",
    );
    await publisher(2).run();
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_KEY_PREFIX: prefix,
      ATTENDANCE_DAYS_KEPT: "2",
      LOG_LEVEL: "silent",
    };
    const ok = await runNode("scripts/reconcile.ts", [], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /attendance documents north: ok \(2 days\)/);
    assert.match(ok.stdout, /every published attendance document agrees with the events\n$/);

    const keys = [];
    for await (const k of redis.scanIterator({ MATCH: `${prefix}attendance:weekend:*:json` }))
      keys.push(...k);
    const key = keys.sort().at(-1)!;
    const doc = JSON.parse((await redis.get(key))!) as AttendanceDayDocument;
    doc.counts.roster += 1;
    await redis.set(key, JSON.stringify(doc));
    const bad = await runNode("scripts/reconcile.ts", ["--school", "weekend"], env);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /attendance documents weekend: DIFFERS \(1 of 2 days\)/);
    assert.match(bad.stdout, /counts\.roster: published \d+, computed \d+/);
  });

  test("a check that does not wait for the publisher's cursor finds a document it is still to rewrite", async () => {
    // bench:attendance's school-0001: the writer's last batch committed, the check read the
    // document before the publisher's run that saw the batch rewrote it, and never again.
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.unlink(keys);
    const p = publisher(7);
    // Someone who checked in and out on a past kept day (the bench's day is a past one).
    const { rows } = await db.pool.query<{
      day: string;
      person_id: string;
      closed_seconds: number;
      last_out: Date;
    }>(
      `select day::text as day, person_id, closed_seconds, last_out from attendance_days
       where school_id = 'north' and day between '2026-10-22' and '2026-10-27'
         and last_out is not null and open_since is null and closed_seconds > 0
       order by day desc, person_id limit 1`,
    );
    const { day, person_id: person, closed_seconds: seconds, last_out: lastOut } = rows[0]!;
    const scope = { daysKept: 7, listed: 20, nowMs: NOW, schoolId: "north", days: [day] };
    // A row as the writer writes it: its change id and its school-day logged in its transaction.
    const write = (set: string) =>
      db.pool.query(
        `with u as (
           update attendance_days set ${set}, change_id = attendance_change_id(), updated_at = now()
           where (school_id, person_id, day) = ('north', $1, $2) returning school_id, day)
         insert into attendance_day_changes (school_id, day) select school_id, day from u`,
        [person, day],
      );
    // A transient state published (the check-in without its check-out)...
    await write("open_since = first_in, last_out = null, closed_seconds = 0, closed_ms = 0");
    await p.run(NOW);
    assert.equal(
      (await reconcileAttendanceDocuments(db.pool, redis, prefix, scope)).differences,
      1,
    );
    // ...then the writer's last write, which agrees with the events again.
    await write(
      `open_since = null, last_out = '${lastOut.toISOString()}', closed_seconds = ${seconds},
       closed_ms = ${seconds * 1000}`,
    );
    const drained = await pendingChangesNow(db.pool);
    // Looked at now, the document is behind: not stale, not yet republished.
    assert.equal(
      (await reconcileAttendanceDocuments(db.pool, redis, prefix, scope)).differences,
      1,
    );
    assert.equal(await waitForAttendancePublisher(db.pool, redis, prefix, drained, 0), undefined);
    const waited = waitForAttendancePublisher(db.pool, redis, prefix, drained, 10_000, 20);
    await p.run(NOW);
    assert.notEqual(await waited, undefined);
    assert.equal(
      (await reconcileAttendanceDocuments(db.pool, redis, prefix, scope)).differences,
      0,
    );
  });
});
