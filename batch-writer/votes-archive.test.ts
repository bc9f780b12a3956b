import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import { createPool, type Pool } from "../common/postgres.ts";
import { eventually } from "../harness/waiting.ts";
import { run } from "../sql/reports/test-psql.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { insertPoll, votesPartitionNames } from "../test-support/stored-votes.ts";
import { makeVote, type VoteSpec } from "../test-support/vote-messages.ts";
import type { DecodedVote } from "./decode.ts";
import { storeBatch } from "./store-batch.ts";
import { archiveExpiredPartitions, archiveFileOf } from "./votes-archive.ts";
import { VotesPartitions } from "./votes-partitions.ts";

// VOTES_ARCHIVE_DIR (migration 040): a partition past retention is written to a gzip'd CSV
// file, made durable, and only then dropped; the file loads back with psql into a table
// like `votes`, row for row; a file that cannot be written drops nothing.

const DAY_MS = 86_400_000;
const idAt = (at: string) => uuidv7({ msecs: Date.parse(at) });
/** Retention days that put the horizon (less its day of grace) just after `at`. */
const daysSince = (at: string) => Math.floor((Date.now() - Date.parse(at)) / DAY_MS);

describe("votes archive before drop (migration 040)", () => {
  let db: TestDatabase;
  let writerRole: LoginRole;
  let writerPool: Pool;
  let dir: string;
  let seq = 1;
  const decoded = (spec: VoteSpec): DecodedVote => ({ ...makeVote(spec), streamSeq: seq++ });
  const partitions = () => votesPartitionNames(db.pool);
  /** Every column of the month's votes as text, in event id order. */
  const monthRows = async (table: string, from: string, to: string) =>
    (
      await db.pool.query<{ r: string }>(
        `select row(v.*)::text as r from ${table} v
         where event_id_time(event_id) >= $1 and event_id_time(event_id) < $2 order by event_id`,
        [from, to],
      )
    ).rows.map((x) => x.r);
  const maintenance = (archiveDir: string, keepDays: number) =>
    new VotesPartitions({
      pool: writerPool,
      config: {
        votesPartitionsAheadMonths: 1,
        votesPartitionCheckMs: 60_000,
        votesRetentionDays: keepDays,
        votesArchiveDir: archiveDir,
      },
      logger: createLogger("silent"),
    });

  /** `rows` votes of January of `year`, a second apart, made in Postgres (v7 ids of their instants). */
  const seedJanuary = async (year: number, rows: number, optionId: string, kioskId: string) => {
    await db.pool.query(
      `select votes_ensure_partitions(interval '2 months', timestamptz '${year}-01-15 00:00:00+00')`,
    );
    await db.pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       select (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '70008000'
               || lpad(to_hex(g), 12, '0'))::uuid, 'lunch', $2, $3, t, t, g
       from generate_series(1, $1::int) g,
            lateral (select timestamptz '${year}-01-02 00:00:00+00' + g * interval '1 second' as t) x`,
      [rows, optionId, kioskId],
    );
  };

  /** After a failed pass: the next archives January (`rows`) and February (empty), drops January. */
  const nextPassArchivesJanuary = async (
    dir: string,
    keepDays: number,
    year: number,
    rows: number,
  ) => {
    const next = await laterPass(dir, keepDays);
    assert.deepEqual(
      next.map((a) => [a.partition, a.rows]),
      [
        [`votes_p${year}_01`, rows],
        [`votes_p${year}_02`, 0],
      ],
    );
    assert.deepEqual((await readdir(dir)).sort(), [
      `votes_p${year}_01.csv.gz`,
      `votes_p${year}_02.csv.gz`,
    ]);
    assert.ok(!(await partitions()).includes(`votes_p${year}_01`));
  };

  /**
   * A pass after one that failed mid-COPY: its connection was destroyed, and Postgres lets
   * go of that session's archive lock once it has seen it close (a moment later), so a pass
   * meanwhile skips. The first pass that takes the lock.
   */
  const laterPass = (archiveDir: string, keepDays: number) =>
    eventually(
      "a later pass takes the archive lock",
      async () => {
        const done = await archiveExpiredPartitions(
          writerPool,
          keepDays,
          archiveDir,
          createLogger("silent"),
        );
        return done.length > 0 ? done : undefined;
      },
      { intervalMs: 100 },
    );

  before(async () => {
    db = await createTestDatabase(testNames().database);
    dir = await mkdtemp(join(tmpdir(), "tallyflow-archive-"));
    await insertPoll(db.pool, "lunch", ["pizza", "salad"]);
    await db.pool.query(
      "select votes_ensure_partitions(interval '3 months', timestamptz '2020-01-15 00:00:00+00')",
    );
    const votes: DecodedVote[] = [];
    // January: many rows, one with a voter id that CSV must quote; February, March, April.
    for (let i = 0; i < 500; i++)
      votes.push(
        decoded({
          eventId: idAt(`2020-01-${String(1 + (i % 28)).padStart(2, "0")}T10:00:00Z`),
          pollId: "lunch",
          optionId: i % 3 === 0 ? "salad" : "pizza",
          ...(i === 7 ? { voterId: 'a,"b"' } : {}),
        }),
      );
    for (const at of ["2020-02-20T10:00:00Z", "2020-03-20T10:00:00Z", "2020-04-05T10:00:00Z"])
      votes.push(decoded({ eventId: idAt(at), pollId: "lunch", optionId: "pizza" }));
    assert.equal((await storeBatch(db.pool, "VOTES", votes, [])).inserted, votes.length);
    // As deployed: the writer's own login role (migration 016's grants, no more).
    writerRole = await createLoginRole(db, "tallyflow_writer");
    writerPool = createPool(writerRole.url, createLogger("silent"), { max: 3 });
  });
  after(async () => {
    await writerPool?.end();
    await writerRole?.drop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("an expired month is archived, loads back with psql row for row, then is dropped", async () => {
    const january = await monthRows("votes", "2020-01-01Z", "2020-02-01Z");
    assert.equal(january.length, 500);
    // Horizon at 2020-03-10: January and February ended a day before it.
    const archived = await maintenance(dir, daysSince("2020-03-10T00:00:00Z")).archiveExpired();
    assert.deepEqual(
      archived.map((a) => [a.partition, a.rows]),
      [
        ["votes_p2020_01", 500],
        ["votes_p2020_02", 1],
      ],
    );
    const left = await partitions();
    assert.ok(!left.includes("votes_p2020_01") && !left.includes("votes_p2020_02"));
    assert.ok(left.includes("votes_p2020_03"));
    // Only the finished files: no partial one left behind.
    assert.deepEqual((await readdir(dir)).sort(), [
      "votes_p2020_01.csv.gz",
      "votes_p2020_02.csv.gz",
    ]);

    // As docs/pipeline.md tells an analyst: a table like votes, then \copy from the file.
    const file = archiveFileOf(dir, "votes_p2020_01");
    const created = await run("psql", [
      db.url,
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      "create table votes_back (like votes)",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const loaded = await run("sh", [
      "-c",
      `gunzip -c "$1" | psql "$2" -X -v ON_ERROR_STOP=1 -c '\\copy votes_back from stdin with (format csv, header true)'`,
      "sh",
      file,
      db.url,
    ]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.deepEqual(await monthRows("votes_back", "2020-01-01Z", "2020-02-01Z"), january);
  });

  test("a file that cannot be written drops nothing, and leaves no partial file", async () => {
    const blocker = join(dir, "not-a-directory");
    await writeFile(blocker, "");
    const keep = daysSince("2020-04-10T00:00:00Z");
    await assert.rejects(
      maintenance(join(blocker, "archive"), keep).archiveExpired(),
      (err: { code?: string }) => err.code === "ENOTDIR" || err.code === "EEXIST",
    );
    assert.ok((await partitions()).includes("votes_p2020_03"));

    // A directory that takes the file but a COPY that fails midway (the partition read is
    // refused): still nothing dropped, no partial file.
    const revoked = await mkdtemp(join(tmpdir(), "tallyflow-archive-"));
    await db.pool.query(`revoke select on votes from tallyflow_writer`);
    try {
      await assert.rejects(
        maintenance(revoked, keep).archiveExpired(),
        (err: { code?: string }) => err.code === "42501", // insufficient_privilege
      );
    } finally {
      await db.pool.query(`grant select on votes to tallyflow_writer`);
    }
    assert.deepEqual(await readdir(revoked), []);
    await rm(revoked, { recursive: true });
    assert.ok((await partitions()).includes("votes_p2020_03"));
  });

  test("a partition held by an open transaction keeps it, its file is written again next pass", async () => {
    const keep = daysSince("2020-05-10T00:00:00Z");
    const holder = await db.pool.connect();
    try {
      await holder.query("begin");
      await holder.query("select count(*) from votes_p2020_03");
      const started = performance.now();
      assert.deepEqual(await maintenance(dir, keep).archiveExpired(), []);
      assert.ok(performance.now() - started < 5_000);
      assert.ok((await partitions()).includes("votes_p2020_03"));
    } finally {
      await holder.query("commit");
      holder.release();
    }
    // In the background, as the writer runs it: run() does not wait for the archive.
    const pass = maintenance(dir, keep);
    await pass.run();
    const deadline = Date.now() + 15_000;
    while ((await partitions()).includes("votes_p2020_04") && Date.now() < deadline)
      await sleep(100);
    await pass.stop();
    const left = await partitions();
    assert.ok(!left.includes("votes_p2020_03") && !left.includes("votes_p2020_04"), `${left}`);
    assert.ok(existsSync(archiveFileOf(dir, "votes_p2020_03")));
    assert.ok(existsSync(archiveFileOf(dir, "votes_p2020_04")));
    assert.ok(left.includes("votes_legacy") && left.includes("votes_default"));
  });

  test("a writer stopping mid-COPY ends the pass at once: no file, the partition kept", async () => {
    // 500,000 votes of January 2019, made in Postgres (v7 ids of their month's instants).
    await db.pool.query(
      "select votes_ensure_partitions(interval '2 months', timestamptz '2019-01-15 00:00:00+00')",
    );
    await db.pool.query(`
      insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
      select (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '70008000'
              || lpad(to_hex(g), 12, '0'))::uuid, 'lunch', 'pizza', 'k1', t, t, g
      from generate_series(1, 500000) g,
           lateral (select timestamptz '2019-01-02 00:00:00+00' + g * interval '1 second' as t) x`);
    const stopping = await mkdtemp(join(tmpdir(), "tallyflow-archive-"));
    const pass = maintenance(stopping, daysSince("2019-03-10T00:00:00Z"));
    await pass.run();
    const deadline = Date.now() + 20_000;
    while ((await readdir(stopping)).length === 0 && Date.now() < deadline) await sleep(10);
    assert.match((await readdir(stopping))[0] ?? "", /^votes_p2019_01\.csv\.gz\.partial-/);
    const started = performance.now();
    await pass.stop();
    assert.ok(performance.now() - started < 5_000, "the stop waited for the COPY");
    assert.deepEqual(await readdir(stopping), []);
    assert.ok((await partitions()).includes("votes_p2019_01"));
    // The lock goes with the destroyed connection (once Postgres has seen it close): a
    // later pass archives the month.
    let next: Awaited<ReturnType<VotesPartitions["archiveExpired"]>> = [];
    for (const until = Date.now() + 10_000; next.length === 0 && Date.now() < until; ) {
      next = await maintenance(stopping, daysSince("2019-03-10T00:00:00Z")).archiveExpired();
      if (next.length === 0) await sleep(100);
    }
    assert.deepEqual(
      next.map((a) => [a.partition, a.rows]),
      [
        ["votes_p2019_01", 500_000],
        ["votes_p2019_02", 0],
      ],
    );
    await rm(stopping, { recursive: true });
  });

  test("Postgres ending the COPY's session mid-COPY: the pass fails, no file, nothing dropped; the next pass archives it", async () => {
    // 300,000 votes of January 2018.
    await seedJanuary(2018, 300_000, "salad", "k2");
    const cut = await mkdtemp(join(tmpdir(), "tallyflow-archive-"));
    const keepDays = daysSince("2018-03-10T00:00:00Z");
    const pass = archiveExpiredPartitions(writerPool, keepDays, cut, createLogger("silent"));
    const deadline = Date.now() + 20_000;
    while ((await readdir(cut)).length === 0 && Date.now() < deadline) await sleep(10);
    assert.match((await readdir(cut))[0] ?? "", /^votes_p2018_01\.csv\.gz\.partial-/);
    // As a restart or a failover of Postgres would: the session streaming the COPY ends
    // (its parallel workers, which show the same query, go with it). Its rejection is
    // awaited below; caught now so that a failed assertion in between is not unhandled.
    pass.catch(() => {});
    const { rows: ended } = await db.pool.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where datname = current_database() and backend_type = 'client backend'
         and query like 'copy (select * from votes%'`,
    );
    assert.deepEqual(
      ended.map((r) => r.ok),
      [true],
      "one COPY was running",
    );
    await assert.rejects(pass, /terminat|Connection terminated/i);
    assert.deepEqual(await readdir(cut), [], "the partial file is removed");
    assert.ok((await partitions()).includes("votes_p2018_01"), "nothing dropped");
    // The session's lock went with it: the next pass writes the whole month.
    await nextPassArchivesJanuary(cut, keepDays, 2018, 300_000);
    await rm(cut, { recursive: true });
  });
  test("the disk filling up under the gzip stream (ENOSPC mid-COPY): the pass fails, no file, nothing dropped; the next pass archives it", async () => {
    // 100,000 votes of January 2017: ~1 MB gzip'd, written in many chunks while the COPY runs.
    await seedJanuary(2017, 100_000, "pizza", "k3");
    const full = await mkdtemp(join(tmpdir(), "tallyflow-archive-"));
    const keepDays = daysSince("2017-03-10T00:00:00Z");
    // A disk with no space left, for real: the partial file is /dev/full, whose every write
    // fails with ENOSPC (the archive opens the partial file by its name, links followed).
    const partial = `${archiveFileOf(full, "votes_p2017_01")}.partial-${process.pid}`;
    await symlink("/dev/full", partial);
    await assert.rejects(
      archiveExpiredPartitions(writerPool, keepDays, full, createLogger("silent")),
      (err: { code?: string }) => err.code === "ENOSPC",
    );
    assert.deepEqual(await readdir(full), [], "the partial file is removed");
    assert.ok((await partitions()).includes("votes_p2017_01"), "nothing dropped");
    // The space is back: the next pass writes the whole month (its connection and lock were
    // not left behind by the failed one), and drops it.
    await nextPassArchivesJanuary(full, keepDays, 2017, 100_000);
    await rm(full, { recursive: true });
  });
});
