import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { createPool, type Pool, pgCode } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { registerKeys } from "../common/register-contract.ts";
import { insertPoll } from "../harness/polls.ts";
import { prng } from "../harness/seeded-random.ts";
import {
  changePeopleSql,
  lockPeopleSql,
  peopleChanged,
  pollsInserted,
  updatePollsSql,
} from "../ingest-api/registry/registry-changes.ts";
import { reconcileAttendanceDocuments } from "../scripts/checks/attendance-documents.ts";
import { reconcile } from "../scripts/checks/reconcile.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import {
  assertAttendanceDaysMatchEvents,
  insertRegister,
  insertSchool,
} from "../test-support/presence-state.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { AttendancePublisher } from "./attendance-publisher.ts";
import { Leadership } from "./leader.ts";
import { ResultsPublisher } from "./publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";
import { buildRegisterDocument } from "./register-document.ts";
import { RegisterPublisher } from "./register-publisher.ts";
import { loadRegisterRows } from "./register-store.ts";

// The change logs (poll_change_log, register_change_log, register_roster_change_log,
// attendance_day_changes, attendance_school_change_log: migrations 048-056) under real
// concurrency, as a hostile scheduler would interleave them: writer batches (votes in
// overlapping polls, each batch's polls in a random order; register events; attendance
// check-ins), roster and register edits, all in parallel loops, while two publisher
// processes (the three real publishers each, fenced by their Leadership as service.ts runs
// them) run back to back and the leader is replaced at random moments (its lock session
// killed mid-run, or the process gone and a fresh one started). Then, writers stopped and a
// final run done: no deadlock or serialization failure anywhere, every published document
// equal to its from-scratch computation, and every change log empty. The interleavings are
// random (seeded: STRESS_SEED repeats a schedule's choices, not its timing); the assertions
// are not. STRESS_MS sets how long the writers write (12 s), STRESS_DEBUG=1 prints each
// failure as it happens. It found the leader's poll_change_log delete deadlocking with
// writer batches (40P01, a few times a run), fixed by migration 058.

const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const WRITE_MS = Number(process.env.STRESS_MS ?? 12_000);
const SEED = Number(process.env.STRESS_SEED ?? Date.now() % 1_000_000);
const WRITERS = 3;
const HOUR = 3_600_000;
const DAYS_KEPT = 3;

const POLLS = ["p0", "p1", "p2", "p3", "p4", "p5"];
const OPTIONS = ["a", "b", "c"];
const REGISTERS = [
  { id: "r0", group: "7A" },
  { id: "r1", group: "7A" },
  { id: "r2", group: "7B" },
  { id: "r3", group: "7B" },
];
const ASH = ["A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"];
const ATTENDANCE = [
  { school: "oak", register: "att-oak", people: ["O1", "O2", "O3", "O4", "O5", "O6"] },
  { school: "elm", register: "att-elm", people: ["E1", "E2", "E3", "E4", "E5", "E6"] },
];
const LOGS = [
  "poll_change_log",
  "register_change_log",
  "register_roster_change_log",
  "attendance_day_changes",
  "attendance_school_change_log",
];

/** A seeded generator, one per loop so each loop's choices repeat. */
const random = prng;
const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;
const shuffled = <T>(r: () => number, list: readonly T[]): T[] => {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

let db: TestDatabase;
let publisherRole: LoginRole;
let writerRole: LoginRole;
let writerPool: Pool;
let redis: RedisClient;
/** Every failure of a writer, an editor or a publisher run: none is expected. */
const failures: { where: string; code: string | undefined; message: string }[] = [];
const fail = (where: string, err: unknown) => {
  failures.push({ where, code: pgCode(err), message: (err as Error).message });
  if (process.env.STRESS_DEBUG) console.error(where, err);
};

/** One publisher process: its lock session, its pool and the three publishers, as service.ts. */
interface PublisherProcess {
  name: string;
  leadership: Leadership;
  pool: Pool;
  results: ResultsPublisher;
  attendance: AttendancePublisher;
  registers: RegisterPublisher;
  runs: number;
  /** Set: its loop ends after the tick in flight. */
  stopped: boolean;
  loop?: Promise<void>;
}

function startProcess(name: string): PublisherProcess {
  const pool = createPool(publisherRole.url, logger, { max: 3, applicationName: `stress-${name}` });
  const leadership = new Leadership(db.url, logger);
  const leaderPid = () => leadership.lockSessionPid;
  const metrics = createPublisherMetrics();
  return {
    name,
    leadership,
    pool,
    results: new ResultsPublisher({
      pool,
      redis,
      keyPrefix: prefix,
      chartWidth: 800,
      chartHeight: 600,
      distributionWindowHours: 24,
      chartRender: "demand",
      chartDemandTtlMs: 60_000,
      leaderPid,
      logger,
      metrics,
    }),
    attendance: new AttendancePublisher({
      pool,
      redis,
      keyPrefix: prefix,
      daysKept: DAYS_KEPT,
      maxDocumentsPerRun: 100,
      leaderPid,
      logger,
      metrics,
    }),
    registers: new RegisterPublisher({
      pool,
      redis,
      keyPrefix: prefix,
      daysKept: 7,
      maxDocumentsPerRun: 100,
      completionGraceMs: 600_000,
      leaderPid,
      logger,
      metrics,
    }),
    runs: 0,
    stopped: false,
  };
}

/** service.ts's tick: lead (or stand by), reset on a new leadership, the three runs. */
async function tick(p: PublisherProcess): Promise<boolean> {
  const wasLeader = p.leadership.isLeader;
  if (!(await p.leadership.acquire())) {
    if (wasLeader) p.attendance.dropKeptTodays();
    return false;
  }
  if (!wasLeader) {
    p.results.reset();
    p.attendance.reset();
    p.registers.reset();
  }
  const where = (what: string) => `${p.name} ${what} run`;
  await Promise.all([
    p.results.run().catch((err: unknown) => fail(where("results"), err)),
    p.attendance
      .run()
      .catch((err: unknown) => fail(where("attendance"), err))
      .then(() => p.registers.run())
      .catch((err: unknown) => fail(where("registers"), err)),
  ]);
  p.runs++;
  return true;
}

async function runLoop(p: PublisherProcess): Promise<void> {
  while (!p.stopped) if (!(await tick(p))) await sleep(25);
}

async function stopProcess(p: PublisherProcess): Promise<void> {
  p.stopped = true;
  await p.loop;
  await p.leadership.release();
  await p.pool.end();
}

/** A writer's loop: batches of votes in overlapping polls, register events, check-ins. */
async function writerLoop(w: number, until: number, counts: { batches: number }): Promise<void> {
  const r = random(SEED * 31 + w);
  let seq = w * 1_000_000;
  while (Date.now() < until) {
    const now = Date.now();
    const votes = [];
    // Polls in a random order, a random subset, several votes each.
    for (const pollId of shuffled(r, POLLS).slice(0, 2 + Math.floor(r() * 4)))
      for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++)
        votes.push(makeVote({ pollId, optionId: pick(r, OPTIONS) }));
    for (const reg of shuffled(r, REGISTERS).slice(0, Math.floor(r() * 3)))
      votes.push(
        makeVote({
          pollId: reg.id,
          optionId: r() < 0.7 ? "absent" : "present",
          voterId: pick(r, ASH),
        }),
      );
    for (const a of shuffled(r, ATTENDANCE))
      for (let i = 0, n = Math.floor(r() * 4); i < n; i++)
        votes.push(
          makeVote({
            pollId: a.register,
            optionId: r() < 0.6 ? "in" : "out",
            voterId: pick(r, a.people),
            // Some late, out of order: the person-day's locking way as well as the fold.
            castAt: new Date(now - Math.floor(r() * 20 * 60_000)),
          }),
        );
    const batch = shuffled(r, votes).map((v) => ({ ...v, streamSeq: ++seq }));
    // Retried as the writer retries (class 40 is transient), but every failure is reported.
    for (;;) {
      try {
        await storeBatch(writerPool, "VOTES", batch, [], 10);
        counts.batches++;
        break;
      } catch (err) {
        fail(`writer ${w}`, err);
        if (pgCode(err)?.startsWith("40") !== true) return;
      }
    }
    await sleep(Math.floor(r() * 5));
  }
}

/**
 * A people update as the API's store makes it: the rows' locks, the update with its rows
 * before and after to people_changed (059), its school's changes recorded (057). `before`
 * selects the rows `write` updates, with `beforeParams`.
 */
async function changePeople(
  school: string,
  write: string,
  before: string,
  params: unknown[],
  beforeParams: unknown[],
): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query("begin");
    await client.query(lockPeopleSql(before), beforeParams);
    await client.query(changePeopleSql(write, before), params);
    await peopleChanged(client, [school]);
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Roster changes in the registers' school and an attendance school, register edits. */
async function editorLoop(until: number, counts: { edits: number }): Promise<void> {
  const r = random(SEED * 31 + 99);
  let title = 0;
  while (Date.now() < until) {
    try {
      const choice = r();
      if (choice < 0.35) {
        const id = pick(r, ASH);
        await changePeople(
          "ash",
          "update people p set groups = $2 where p.school_id = 'ash' and p.id = $1 returning p as after_row",
          "p.school_id = 'ash' and p.id = $1",
          [id, [r() < 0.5 ? "7A" : "7B"]],
          [id],
        );
      } else if (choice < 0.6) {
        const [school, person] =
          r() < 0.5 ? ["ash", pick(r, ASH)] : ["oak", pick(r, ATTENDANCE[0]!.people)];
        await changePeople(
          school,
          "update people p set active = not p.active where p.school_id = $1 and p.id = $2 returning p as after_row",
          "p.school_id = $1 and p.id = $2",
          [school, person],
          [school, person],
        );
      } else if (choice < 0.8) {
        await db.pool.query(
          updatePollsSql(`title = 'Lesson ${++title}'`, `p.id = '${pick(r, REGISTERS).id}'`),
        );
      } else {
        // A roster transaction of several statements, held a moment (its log row locked).
        const client = await db.pool.connect();
        try {
          await client.query("begin");
          for (const groups of ["{7B}", "{7A}"]) {
            const one = "p.school_id = 'ash' and p.id = $1";
            const id = pick(r, ASH);
            await client.query(lockPeopleSql(one), [id]);
            await client.query(
              changePeopleSql(
                `update people p set groups = '${groups}' where ${one} returning p as after_row`,
                one,
              ),
              [id],
            );
            if (groups === "{7B}") await sleep(Math.floor(r() * 30));
          }
          await peopleChanged(client, ["ash"]);
          await client.query("commit");
        } catch (err) {
          await client.query("rollback").catch(() => {});
          throw err;
        } finally {
          client.release();
        }
      }
      counts.edits++;
    } catch (err) {
      fail("editor", err);
    }
    await sleep(10 + Math.floor(r() * 40));
  }
}

before(async () => {
  db = await createTestDatabase(names.database);
  publisherRole = await createLoginRole(db, "tallyflow_publisher");
  writerRole = await createLoginRole(db, "tallyflow_writer");
  writerPool = createPool(writerRole.url, logger, { max: WRITERS, applicationName: "stress-w" });
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  for (const id of POLLS) await insertPoll(db.pool, id, OPTIONS);
  await pollsInserted(db.pool, POLLS);
  await insertSchool(db.pool, "ash", "UTC");
  await db.pool.query(
    `insert into people (school_id, id, groups)
     select 'ash', id, case when id like 'A%' then '{7A}' else '{7B}' end::text[]
     from unnest($1::text[]) as u(id)`,
    [ASH],
  );
  const now = Date.now();
  for (const { id, group } of REGISTERS) {
    await db.pool.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ($1, $1, $1, 'ash', 'register', 'roster', array[$2], $3, $4)`,
      [id, group, new Date(now - HOUR), new Date(now + HOUR)],
    );
    await db.pool.query(
      `insert into poll_options (poll_id, id, label, position)
       values ($1, 'absent', 'Absent', 1), ($1, 'present', 'Present', 2)`,
      [id],
    );
  }
  await pollsInserted(
    db.pool,
    REGISTERS.map((g) => g.id),
  );
  for (const a of ATTENDANCE) {
    await insertSchool(db.pool, a.school, "UTC");
    await db.pool.query(
      `insert into people (school_id, id, groups) select $1, id, '{G}' from unnest($2::text[]) as u(id)`,
      [a.school, a.people],
    );
    await insertRegister(db.pool, a.register, a.school);
    await pollsInserted(db.pool, [a.register]);
  }
});

after(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis?.close();
  await writerPool?.end();
  await writerRole?.drop();
  await publisherRole?.drop();
  await db?.drop();
});

test("writers, editors and publishers at once, the leader replaced at random: nothing deadlocks, nothing is lost, every log is emptied", async (t) => {
  t.diagnostic(`STRESS_SEED=${SEED}`);
  const until = Date.now() + WRITE_MS;
  const counts = { batches: 0, edits: 0, replaced: 0, killed: 0 };
  let serial = 0;
  const processes = [startProcess(`pub${serial++}`), startProcess(`pub${serial++}`)];
  for (const p of processes) p.loop = runLoop(p);
  const gone: Promise<void>[] = [];

  const writers = Array.from({ length: WRITERS }, (_, w) => writerLoop(w, until, counts));
  const editor = editorLoop(until, counts);
  // The leader replaced at random moments: its lock session killed mid-run (it finds out at
  // its next tick; a standby takes over meanwhile), or the process gone (its lock released
  // while its run goes on) and a fresh one started.
  const r = random(SEED * 31 + 7);
  while (Date.now() < until) {
    await sleep(400 + Math.floor(r() * 1_200));
    const leader = processes.find((p) => p.leadership.lockSessionPid !== undefined);
    if (leader === undefined) continue;
    if (r() < 0.5) {
      await db.pool.query("select pg_terminate_backend($1)", [leader.leadership.lockSessionPid]);
      counts.killed++;
    } else {
      processes.splice(processes.indexOf(leader), 1);
      leader.stopped = true;
      await leader.leadership.release();
      gone.push(stopProcess(leader));
      const fresh = startProcess(`pub${serial++}`);
      fresh.loop = runLoop(fresh);
      processes.push(fresh);
      counts.replaced++;
    }
  }
  await Promise.all([...writers, editor]);
  for (const p of processes) p.stopped = true;
  await Promise.all([...processes.map((p) => p.loop), ...gone]);

  // The final run: one process leads alone, once the writers are done.
  const last = processes.pop()!;
  for (const p of processes) await stopProcess(p);
  last.stopped = false;
  let led = false;
  for (let i = 0; i < 5 && !led; i++) led = await tick(last);
  assert.ok(led, "the last process became the leader");
  t.diagnostic(
    `${counts.batches} batches, ${counts.edits} edits, leader killed ${counts.killed}×, replaced ${counts.replaced}×`,
  );
  try {
    // (1) Nothing failed: no deadlock (40P01), no serialization failure, nothing else.
    assert.deepEqual(failures, [], "no writer, editor or publisher run failed");
    assert.ok(counts.batches > 50 && counts.killed + counts.replaced > 2, "enough happened");

    // (3) Every change log consumed by the final run.
    for (const table of LOGS) {
      const { rows } = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from ${table}`,
      );
      assert.equal(rows[0]!.n, 0, `${table} is empty after the final run`);
    }

    // (2) Nothing lost. The results: every poll's totals (registers' too) as counted.
    const results = await reconcile(db.pool, redis, prefix);
    assert.equal(results.differences, 0, JSON.stringify(results.polls, null, 1));
    assert.deepEqual(
      results.polls.map((p) => [p.pollId, p.state]),
      [...POLLS, ...REGISTERS.map((g) => g.id)].sort().map((id) => [id, "ok"]),
    );
    // The registers: each document as a build from scratch of its rows now.
    const rows = await loadRegisterRows(
      db.pool,
      REGISTERS.map((g) => g.id),
    );
    for (const row of rows) {
      const raw = await redis.get(registerKeys(prefix, row.pollId).json);
      assert.ok(raw !== null, `${row.pollId} published`);
      const { publishedAt: _, ...doc } = JSON.parse(raw) as Record<string, unknown>;
      const { publishedAt: __, ...built } = JSON.parse(
        buildRegisterDocument(row, Date.now()).json,
      ) as Record<string, unknown>;
      assert.deepEqual(doc, built, `${row.pollId}'s document`);
    }
    // Attendance: the writer's state as its events say, the documents as migration 022's
    // from-scratch SQL over the events.
    await assertAttendanceDaysMatchEvents(db.pool);
    const documents = await reconcileAttendanceDocuments(db.pool, redis, prefix, {
      daysKept: DAYS_KEPT,
      listed: 20,
    });
    assert.equal(documents.differences, 0, JSON.stringify(documents.schools, null, 1));
  } finally {
    await stopProcess(last);
  }
});
