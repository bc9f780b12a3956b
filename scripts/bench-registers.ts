import { statfs } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Pool as HttpPool } from "undici";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import {
  completionMessageId,
  encodeCompletionMessage,
  type StoredCompletion,
} from "../common/register-completion.ts";
import {
  type RegisterDocument,
  registerChannel,
  registerKeys,
} from "../common/register-contract.ts";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { ensureVotesStream, voteSubject } from "../common/votes-stream.ts";
import { startNode, stopChild, waitUntilReady } from "../harness/child-processes.ts";
import { freePort } from "../harness/ports.ts";
import { pollsInserted } from "../ingest-api/registry/registry-changes.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { unlinkKeysUnder } from "./bench/run-cleanup.ts";
import { BENCH_ADMIN_HEADERS, benchRun, benchServiceEnv } from "./bench/run-names.ts";
import { type Verdict, valueVerdict, verdictLines } from "./bench/verdict.ts";
import { durationFlag, intFlag, percentFlag, readCli } from "./cli.ts";

// `npm run bench:registers`: a national morning of lesson registers (docs/registers.md).
// `--pupils` pupils (10 million) in `--lessons` lessons (350,000) of `--schools` schools,
// every lesson starting within the same `--window` (10 minutes); `--absent` (5 %) of the
// pupils are absent, and `--corrections` of those absences are taken back after the
// completion. The schools, people (one group a lesson), registers and their options are
// seeded inside Postgres (generate_series) in a database of this run; the morning goes
// through the real pipeline: JetStream (a stream of this run) → the batch writer (a child
// process: register upkeep in the batches' transactions) → Postgres → the result publisher
// (a child process, as leader, with the service's settings) → Redis (a key prefix of this
// run). The messages are those the API publishes (one per lesson for a teacher's batch of
// absences, one per completion with its message id), published by the bench straight to
// JetStream as fast as the stream acks them: the HTTP API is not the bulk's path (its
// throughput is bench:ingest's and bench:attendance's); what is measured is what the
// pipeline behind it sustains. A sample of the morning's lessons (`--api-lessons`, spread
// over it) goes through the ingest API instead (a process of the run, a teacher's token of
// each sampled school): the absences in one batch, the completion, the corrections.
//
// Measured, for the morning and for a reference morning in the same run that records every
// pupil explicitly (the same lessons, absences and corrections, plus a `present` event for
// each other pupil, and the completion: without one tallyflow counts nobody present):
// - sustained events/s: events (absences, corrections, completions) / seconds from the
//   first message published to the writer having stored the last;
// - the time from the last completion acked by JetStream to every register's final document
//   published in Redis (the announcement of the version found in Redis at the end, each
//   document checked against the expected counts);
// - what was written: rows inserted, updated and deleted in this run's database
//   (pg_stat_user_tables), bytes of its tables and indexes grown (pg_total_relation_size),
//   and WAL bytes (pg_current_wal_lsn difference: the whole server's, so another session's
//   writes on a shared machine count in it too) — the morning against the reference is the
//   "writes saved" (the origin system claimed ~80 %). Every table counts, the completion's
//   register_states row (with its roster) included; the ids inside the rosters are printed
//   apart, and the saving once more counting each as a row (the strictest count).
//
// `--reference-pupils` runs the reference on the first lessons only (a scaled sample, its
// numbers extrapolated linearly to the morning's lessons and said so).

const USAGE = `usage: npm run bench:registers -- [--pupils N] [--lessons N] [options]
  --pupils N             pupils (default 10000000)
  --lessons N            lessons (registers), one group each (default 350000)
  --schools N            schools (default: lessons / 17.5)
  --absent P             pupils absent (default 5%)
  --corrections P        absences taken back after the completion (default 1%)
  --window D             every lesson starts within this window (default 10m)
  --reference-pupils N   pupils of the reference morning (default: --pupils; 0: none)
  --in-flight N          JetStream publishes awaiting their ack (default 1000)
  --api-lessons N        lessons of the morning sent through the ingest API instead (default 100; 0: none)
  --interval D           the publisher's RESULTS_INTERVAL_MS (default 5s, the service's)
  --documents-per-run N  the publisher's REGISTER_MAX_DOCUMENTS_PER_RUN (default 10000, the service's)
  --docs-timeout D       how long to wait for the documents (default 90m)
  --keep                 keep the database, stream and keys (default: removed)
env: BENCH_PG_URL, NATS_URL, REDIS_URL`;

const o = readCli(
  {
    usage: USAGE,
    options: {
      pupils: { type: "string", default: "10000000" },
      lessons: { type: "string", default: "350000" },
      schools: { type: "string" },
      absent: { type: "string", default: "5%" },
      corrections: { type: "string", default: "1%" },
      window: { type: "string", default: "10m" },
      "reference-pupils": { type: "string" },
      "in-flight": { type: "string", default: "1000" },
      "api-lessons": { type: "string", default: "100" },
      interval: { type: "string", default: "5s" },
      "documents-per-run": { type: "string", default: "10000" },
      "docs-timeout": { type: "string", default: "90m" },
      keep: { type: "boolean", default: false },
    },
  },
  ({ values }) => {
    const pupils = intFlag("pupils", values.pupils, { min: 1, max: 100_000_000 });
    const lessons = intFlag("lessons", values.lessons, { min: 1, max: pupils });
    return {
      pupils,
      lessons,
      schools:
        values.schools === undefined
          ? Math.max(1, Math.round(lessons / 17.5))
          : intFlag("schools", values.schools, { min: 1, max: lessons }),
      absent: percentFlag("absent", values.absent),
      corrections: percentFlag("corrections", values.corrections),
      windowMs: durationFlag("window", values.window),
      referencePupils:
        values["reference-pupils"] === undefined
          ? pupils
          : intFlag("reference-pupils", values["reference-pupils"], { min: 0, max: pupils }),
      inFlight: intFlag("in-flight", values["in-flight"], { min: 1, max: 100_000 }),
      apiLessons: intFlag("api-lessons", values["api-lessons"], { min: 0, max: lessons }),
      intervalMs: durationFlag("interval", values.interval),
      documentsPerRun: intFlag("documents-per-run", values["documents-per-run"], { min: 1 }),
      docsTimeoutMs: durationFlag("docs-timeout", values["docs-timeout"]),
      keep: values.keep,
    };
  },
);

const started = new Date();
const logger = createLogger("warn");
const run = benchRun("registers");
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const pctText = (x: number) => `${(100 * x).toFixed(1)} %`;
const pct = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
};
/** The claim of the system registers were designed from: ~80 % fewer writes. */
const CLAIMED_SAVING = 0.8;
/** Lessons start this long before the bench runs: every completion is in the past. */
const MORNING_AGO_MS = 60 * 60_000;
const LESSON_MS = 45 * 60_000;

// Who is in which lesson, who is absent, whose absence is taken back: functions of the
// pupil's number, so that nothing per pupil is held in memory (10 million at full scale).
// Lesson k holds pupils ceil(k·P/L) … ceil((k+1)·P/L) − 1, in school floor(k·S/L).
// (Pupil i is in lesson floor(i·L/P), as seeded: lesson k begins at ceil(k·P/L).)
const firstPupil = (k: number, pupils: number, lessons: number) =>
  Math.ceil((k * pupils) / lessons);
const mix = (i: number, salt: number) => {
  let x = Math.imul(i ^ salt, 0x9e3779b1);
  x ^= x >>> 15;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return (x >>> 0) / 2 ** 32;
};
const isAbsent = (i: number) => mix(i, 0x5bd1e995) < o.absent;
const isCorrected = (i: number) => isAbsent(i) && mix(i, 0x27d4eb2f) < o.corrections;
const pupilId = (i: number) => `p${i}`;
const schoolOf = (k: number) => Math.floor((k * o.schools) / o.lessons);

interface Lesson {
  k: number;
  pollId: string;
  incarnation: number;
  startsAt: number;
  from: number;
  to: number;
}

interface Expected {
  present: number;
  absent: number;
  events: number;
}

/** The lessons of one morning (`prefix`: its poll ids), each with its expected final counts. */
function expectedOf(lesson: Lesson, explicit: boolean): Expected {
  let absent = 0;
  let corrected = 0;
  for (let i = lesson.from; i < lesson.to; i++)
    if (isAbsent(i)) {
      absent++;
      if (isCorrected(i)) corrected++;
    }
  const size = lesson.to - lesson.from;
  return {
    present: size - absent + corrected,
    absent: absent - corrected,
    events: (explicit ? size : absent) + corrected,
  };
}

async function seedWorld(pool: Pool): Promise<void> {
  await pool.query(
    `insert into schools (id, name, time_zone)
     select 's' || g, 'School ' || g, 'Europe/London' from generate_series(0, $1::int - 1) g`,
    [o.schools],
  );
  // One group a lesson; a pupil is in their lesson's group.
  await pool.query(
    `insert into people (school_id, id, name, groups)
     select 's' || ((k::bigint * $3) / $2), 'p' || i, 'Pupil ' || i, array['g' || k]
     from (select i, ((i::bigint * $2) / $1)::int as k from generate_series(0, $1::int - 1) i) x`,
    [o.pupils, o.lessons, o.schools],
  );
  await pool.query("analyze people");
}

/** The registers of a morning (`prefix` + lesson), the first `count` lessons. */
async function seedRegisters(pool: Pool, prefix: string, count: number): Promise<Lesson[]> {
  const morning = Date.now() - MORNING_AGO_MS;
  await pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     select $1 || k, $1 || k, 'Lesson ' || k, 's' || ((k::bigint * $4) / $3), 'register', 'roster',
            array['g' || k], s, s + $6 * interval '1 millisecond'
     from generate_series(0, $2::int - 1) k,
          lateral (select to_timestamp($5::double precision / 1000)
                          + ((k::bigint * $7) / $3) * interval '1 millisecond' as s) t`,
    [prefix, count, o.lessons, o.schools, morning, LESSON_MS, o.windowMs],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p.id, x.o, initcap(x.o), x.n from polls p,
            unnest(array['absent', 'present']) with ordinality as x(o, n)
     where p.id like $1 || '%' and p.kind = 'register'`,
    [prefix],
  );
  const { rows } = await pool.query<{ id: string; incarnation: string; starts_at: Date }>(
    "select id, incarnation, starts_at from polls where id like $1 || '%' and kind = 'register'",
    [prefix],
  );
  // Told as the API's create tells it (the reference's are made while the services run).
  await pollsInserted(
    pool,
    rows.map((r) => r.id),
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return Array.from({ length: count }, (_, k) => {
    const r = byId.get(`${prefix}${k}`)!;
    return {
      k,
      pollId: r.id,
      incarnation: Number(r.incarnation),
      startsAt: r.starts_at.getTime(),
      from: firstPupil(k, o.pupils, o.lessons),
      to: firstPupil(k + 1, o.pupils, o.lessons),
    };
  });
}

interface Writes {
  rows: number;
  byTable: Map<string, number>;
  relationBytes: number;
  walLsn: string;
}

async function writesNow(pool: Pool): Promise<Writes> {
  const { rows } = await pool.query<{ relname: string; n: string; bytes: string }>(
    `select relname, (n_tup_ins + n_tup_upd + n_tup_del)::bigint as n,
            pg_total_relation_size(relid)::bigint as bytes
     from pg_stat_user_tables`,
  );
  const lsn = await pool.query<{ lsn: string }>("select pg_current_wal_lsn()::text as lsn");
  return {
    rows: rows.reduce((s, r) => s + Number(r.n), 0),
    byTable: new Map(rows.map((r) => [r.relname, Number(r.n)])),
    relationBytes: rows.reduce((s, r) => s + Number(r.bytes), 0),
    walLsn: lsn.rows[0]!.lsn,
  };
}

interface WritesDelta {
  rows: number;
  byTable: Map<string, number>;
  relationBytes: number;
  walBytes: number;
}

async function writesSince(pool: Pool, before: Writes): Promise<WritesDelta> {
  // Backends report their table statistics when idle, at most every 10 s (PostgreSQL 15).
  await sleep(11_000);
  const after = await writesNow(pool);
  const wal = await pool.query<{ n: string }>("select pg_wal_lsn_diff($1, $2)::bigint as n", [
    after.walLsn,
    before.walLsn,
  ]);
  const byTable = new Map<string, number>();
  for (const [t, n] of after.byTable) {
    const d = n - (before.byTable.get(t) ?? 0);
    if (d > 0) byTable.set(t, d);
  }
  return {
    rows: after.rows - before.rows,
    byTable,
    relationBytes: after.relationBytes - before.relationBytes,
    walBytes: Number(wal.rows[0]!.n),
  };
}

/** Every register's announcements: the last version and when it was heard. */
class Announcements {
  readonly last = new Map<string, { version: string; atMs: number }>();
  lastAtMs = 0;
  heard(message: string): void {
    const a = JSON.parse(message) as { pollId: string; version: string };
    const atMs = Date.now();
    this.last.set(a.pollId, { version: a.version, atMs });
    this.lastAtMs = atMs;
  }
}

async function waitForDocuments(
  lessons: Lesson[],
  heard: Announcements,
  sinceMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + o.docsTimeoutMs;
  let shown = 0;
  for (;;) {
    const n = lessons.reduce(
      (s, l) => s + ((heard.last.get(l.pollId)?.atMs ?? -1) >= sinceMs ? 1 : 0),
      0,
    );
    if (n === lessons.length) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: ${n} of ${lessons.length} documents published by the deadline`);
    if (Date.now() - shown > 30_000) {
      log(`  ${what}: ${int(n)} of ${int(lessons.length)} documents published`);
      shown = Date.now();
    }
    await sleep(500);
  }
}

async function drained(nc: NatsConnection, lastSeq: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const info = await jsm.consumers.info(run.names.stream, "batch-writer").catch(() => undefined);
    if (
      info &&
      info.num_pending === 0 &&
      info.num_ack_pending === 0 &&
      info.delivered.stream_seq >= lastSeq
    )
      return;
    await sleep(200);
  }
}

/** Each register's document in Redis against its expected counts, and its announcement. */
async function checkDocuments(
  redis: RedisClient,
  lessons: Lesson[],
  expected: Map<string, Expected>,
  heard: Announcements,
): Promise<{ wrong: string[]; lastDocMs: number }> {
  const wrong: string[] = [];
  let lastDocMs = 0;
  for (let i = 0; i < lessons.length; i += 1_000) {
    const chunk = lessons.slice(i, i + 1_000);
    const docs = await redis.mGet(
      chunk.map((l) => registerKeys(run.names.redisKeyPrefix, l.pollId).json),
    );
    chunk.forEach((l, j) => {
      const text = docs[j];
      const e = expected.get(l.pollId)!;
      const doc = text == null ? undefined : (JSON.parse(text) as RegisterDocument);
      const announced = heard.last.get(l.pollId);
      const ok =
        doc?.completed === true &&
        doc.counts.present === e.present &&
        doc.counts.absent === e.absent &&
        doc.counts.pending === 0 &&
        doc.counts.events === e.events &&
        announced?.version === doc.version;
      if (!ok)
        wrong.push(
          `${l.pollId}: ${doc === undefined ? "no document" : JSON.stringify(doc.counts)} expected ${JSON.stringify(e)}`,
        );
      lastDocMs = Math.max(lastDocMs, announced?.atMs ?? 0);
    });
  }
  return { wrong, lastDocMs };
}

/**
 * The lessons of the morning sent through the ingest API (a process of the run), as a
 * teacher of the school sends them: the absences in one `POST /v1/votes/batch`, then
 * `POST /v1/registers/:pollId/complete`, the corrections in one batch after all completions.
 */
interface ApiSample {
  http: HttpPool;
  pollIds: Set<string>;
  /** Each school's teacher's token, by the school's number. */
  tokens: Map<number, string>;
  ms: number[];
  failed: string[];
}

async function apiRequest(
  api: ApiSample,
  token: string,
  path: string,
  body: unknown,
): Promise<boolean> {
  const a = performance.now();
  const res = await api.http.request({
    method: "POST",
    path,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  api.ms.push(performance.now() - a);
  // A completion answers 202; a batch 200 with each vote's status (none may be rejected).
  const ok = (res.statusCode === 202 || res.statusCode === 200) && !/"rejected":[1-9]/.test(text);
  if (!ok) api.failed.push(`${path}: ${res.statusCode} ${text.slice(0, 200)}`);
  return ok;
}

interface Morning {
  name: string;
  lessons: number;
  pupils: number;
  events: number;
  messages: number;
  /** Of them, HTTP requests to the ingest API (the API's sample). */
  apiRequests: number;
  publishS: number;
  storedS: number;
  docsS: number;
  writes: WritesDelta;
  /** Person ids written inside the completions' rosters (register_states.roster): not rows. */
  rosterIds: number;
  wrong: string[];
}

/** Publishes one morning's messages in start order, waits for the writer and the documents. */
async function playMorning(
  name: string,
  explicit: boolean,
  lessons: Lesson[],
  pool: Pool,
  redis: RedisClient,
  nc: NatsConnection,
  heard: Announcements,
  api?: ApiSample,
): Promise<Morning> {
  const js = jetstream(nc);
  const subject = (pollId: string) => voteSubject(run.names.subjectPrefix, pollId);
  const expected = new Map(lessons.map((l) => [l.pollId, expectedOf(l, explicit)]));
  // The seeding's statistics reported first (a backend reports them when idle, within 10 s).
  await sleep(11_000);
  const before = await writesNow(pool);
  let inFlight: Promise<unknown>[] = [];
  let messages = 0;
  let events = 0;
  let lastSeq = 0;
  let lastCompletionAckMs = 0;
  const send = async (subj: string, data: Uint8Array, msgID: string, completion: boolean) => {
    messages++;
    inFlight.push(
      js.publish(subj, data, { msgID, timeout: 120_000 }).then((ack) => {
        lastSeq = Math.max(lastSeq, ack.seq);
        if (completion) lastCompletionAckMs = Math.max(lastCompletionAckMs, Date.now());
      }),
    );
    if (inFlight.length >= o.inFlight) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  };
  const t0 = performance.now();
  const startedAtMs = Date.now();
  // Each lesson's teacher: the absences (one batch) two minutes in, the completion at five,
  // the corrections a minute later; the lessons in start order.
  const corrections: { lesson: Lesson; ids: number[] }[] = [];
  const apiLessons: Promise<void>[] = [];
  let apiRequests = 0;
  for (const l of lessons) {
    if (api?.pollIds.has(l.pollId)) {
      const token = api.tokens.get(schoolOf(l.k))!;
      const absent: number[] = [];
      for (let i = l.from; i < l.to; i++) if (isAbsent(i)) absent.push(i);
      const corrected = absent.filter(isCorrected);
      if (corrected.length > 0) corrections.push({ lesson: l, ids: corrected });
      events += absent.length + 1;
      apiRequests += absent.length > 0 ? 2 : 1;
      apiLessons.push(
        (async () => {
          if (absent.length > 0)
            await apiRequest(api, token, "/v1/votes/batch", {
              votes: absent.map((i) => ({
                pollId: l.pollId,
                optionId: "absent",
                voterId: pupilId(i),
                castAt: new Date(l.startsAt + 2 * 60_000).toISOString(),
              })),
            });
          if (
            await apiRequest(api, token, `/v1/registers/${l.pollId}/complete`, {
              completionId: uuidv7(),
              completedAt: new Date(l.startsAt + 5 * 60_000).toISOString(),
            })
          )
            lastCompletionAckMs = Math.max(lastCompletionAckMs, Date.now());
        })(),
      );
      continue;
    }
    const castAt = new Date(l.startsAt + 2 * 60_000).toISOString();
    const votes: StoredVote[] = [];
    const corrected: number[] = [];
    for (let i = l.from; i < l.to; i++) {
      const absent = isAbsent(i);
      if (!absent && !explicit) continue;
      if (isCorrected(i)) corrected.push(i);
      votes.push({
        eventId: uuidv7({ msecs: l.startsAt + 2 * 60_000 }),
        pollId: l.pollId,
        optionId: absent ? "absent" : "present",
        kioskId: `t-${l.k}`,
        voterId: pupilId(i),
        castAt,
        receivedAt: castAt,
        pollIncarnation: l.incarnation,
      });
    }
    if (votes.length > 0) {
      events += votes.length;
      await send(subject(l.pollId), encodeVoteMessage(votes), `b-${votes[0]!.eventId}`, false);
    }
    const completion: StoredCompletion = {
      completionId: uuidv7({ msecs: l.startsAt + 5 * 60_000 }),
      pollId: l.pollId,
      pollIncarnation: l.incarnation,
      completedAt: new Date(l.startsAt + 5 * 60_000).toISOString(),
      receivedAt: new Date(l.startsAt + 5 * 60_000).toISOString(),
      by: `t-${l.k}`,
    };
    events++;
    await send(
      subject(l.pollId),
      encodeCompletionMessage(completion),
      completionMessageId(l.pollId, completion.completionId),
      true,
    );
    if (corrected.length > 0) corrections.push({ lesson: l, ids: corrected });
  }
  await Promise.all(apiLessons);
  for (const { lesson: l, ids } of corrections) {
    const castAt = new Date(l.startsAt + 6 * 60_000).toISOString();
    if (api?.pollIds.has(l.pollId)) {
      events += ids.length;
      apiRequests++;
      await apiRequest(api, api.tokens.get(schoolOf(l.k))!, "/v1/votes/batch", {
        votes: ids.map((i) => ({
          pollId: l.pollId,
          optionId: "present",
          voterId: pupilId(i),
          castAt,
        })),
      });
      continue;
    }
    const votes = ids.map(
      (i): StoredVote => ({
        eventId: uuidv7({ msecs: l.startsAt + 6 * 60_000 }),
        pollId: l.pollId,
        optionId: "present",
        kioskId: `t-${l.k}`,
        voterId: pupilId(i),
        castAt,
        receivedAt: castAt,
        pollIncarnation: l.incarnation,
      }),
    );
    events += votes.length;
    await send(subject(l.pollId), encodeVoteMessage(votes), `c-${votes[0]!.eventId}`, false);
  }
  await Promise.all(inFlight);
  const publishS = (performance.now() - t0) / 1000;
  log(
    `  ${name}: ${int(events)} events in ${int(messages)} messages published in ${publishS.toFixed(1)} s`,
  );
  await drained(nc, lastSeq);
  const storedS = (performance.now() - t0) / 1000;
  log(`  ${name}: stored in ${storedS.toFixed(1)} s (${int(events / storedS)} events/s)`);
  // Every register's final document: each announced since the morning began, then the
  // publisher quiet (it announces each run while it owes documents), then each document read
  // and checked; until they all agree or the deadline.
  await waitForDocuments(lessons, heard, startedAtMs, name);
  const deadline = Date.now() + o.docsTimeoutMs;
  const quietMs = Math.max(3 * o.intervalMs, 20_000);
  let wrong: string[] = [];
  let lastDocMs = 0;
  for (let checkedAtMs = 0; ; ) {
    while (Date.now() - heard.lastAtMs < quietMs) await sleep(500);
    // Nothing announced since the last check: what is wrong stays wrong.
    if (checkedAtMs > heard.lastAtMs) break;
    checkedAtMs = Date.now();
    ({ wrong, lastDocMs } = await checkDocuments(redis, lessons, expected, heard));
    if (wrong.length === 0 || Date.now() > deadline) break;
    log(`  ${name}: ${int(wrong.length)} documents not final yet, waiting...`);
    await sleep(o.intervalMs);
  }
  const docsS = (lastDocMs - lastCompletionAckMs) / 1000;
  log(`  ${name}: every document published ${docsS.toFixed(1)} s after the last completion's ack`);
  const writes = await writesSince(pool, before);
  // A roster is one row (counted in register_states' writes) holding every pupil's id: said
  // apart, so that "rows written" does not hide what the completion stores.
  const rosters = await pool.query<{ n: string }>(
    "select coalesce(sum(cardinality(roster)), 0)::bigint as n from register_states where poll_id = any($1)",
    [lessons.map((l) => l.pollId)],
  );
  return {
    rosterIds: Number(rosters.rows[0]!.n),
    name,
    lessons: lessons.length,
    pupils: lessons.reduce((s, l) => s + l.to - l.from, 0),
    events,
    messages: messages + apiRequests,
    apiRequests,
    publishS,
    storedS,
    docsS,
    writes,
    wrong,
  };
}

const disk = await statfs("/");
const freeBytes = disk.bavail * disk.bsize;
// About 1.5 kB a pupil for the morning (people, the rosters, their indexes, WAL) and
// 1.5 kB more for an explicit reference event (votes and its indexes).
const needBytes = 1_500 * o.pupils + 1_500 * o.referencePupils;
log(`disk: ${mb(freeBytes)} free, about ${mb(needBytes)} needed`);
if (freeBytes < 2 * needBytes) {
  console.error(`not enough disk: ${mb(freeBytes)} free, want twice ${mb(needBytes)}`);
  process.exit(2);
}

await ensureDatabase(run.databaseUrl);
const pool = createPool(run.databaseUrl, logger, { max: 4, applicationName: "bench-registers" });
await migrate(pool, logger);
const redis = await connectRedis(run.redisUrl, logger, "bench-registers");
const subscriber = await connectRedis(run.redisUrl, logger, "bench-registers-sub");
const nc = await connect({ servers: run.natsUrl });
const children: ReturnType<typeof startNode>[] = [];
let exitCode = 0;

try {
  let t = performance.now();
  log(`seeding ${int(o.schools)} schools, ${int(o.pupils)} pupils in ${int(o.lessons)} groups...`);
  await seedWorld(pool);
  const morningLessons = await seedRegisters(pool, "m-", o.lessons);
  const referenceLessons = Math.round((o.lessons * o.referencePupils) / o.pupils);
  const seedS = (performance.now() - t) / 1000;
  log(`seeded in ${seedS.toFixed(0)} s`);

  await ensureVotesStream(nc, {
    streamName: run.names.stream,
    subjectPrefix: run.names.subjectPrefix,
    duplicateWindowMs: 600_000,
    maxBytes: 0,
    replicas: 1,
  });
  const heard = new Announcements();
  await subscriber.subscribe(registerChannel(run.names.redisKeyPrefix), (m) => heard.heard(m));
  const env = {
    ...benchServiceEnv(run, await freePort()),
    RESULTS_INTERVAL_MS: String(o.intervalMs),
    REGISTER_MAX_DOCUMENTS_PER_RUN: String(o.documentsPerRun),
    WRITER_METRICS_PORT: "0",
    PUBLISHER_METRICS_PORT: "0",
  };
  children.push(startNode("writer", ["batch-writer/main.ts"], env));
  children.push(startNode("publisher", ["result-publisher/main.ts"], env));
  // The API's sample: the ingest API as a process, a teacher for each sampled lesson's school.
  let api: ApiSample | undefined;
  if (o.apiLessons > 0) {
    const port = await freePort();
    const apiEnv = { ...env, ...benchServiceEnv(run, port), API_METRICS_PORT: "0" };
    const child = startNode("ingest", ["ingest-api/main.ts"], apiEnv);
    children.push(child);
    await waitUntilReady(child, `http://127.0.0.1:${port}/readyz`, 300_000);
    const http = new HttpPool(`http://127.0.0.1:${port}`, { connections: 8 });
    // Spread over the morning: every (lessons / apiLessons)th lesson.
    const sampled = Array.from({ length: o.apiLessons }, (_, n) =>
      Math.floor((n * o.lessons) / o.apiLessons),
    );
    const tokens = new Map<number, string>();
    for (const school of new Set(sampled.map(schoolOf))) {
      const res = await http.request({
        method: "POST",
        path: `/v1/schools/s${school}/teachers`,
        headers: BENCH_ADMIN_HEADERS,
        body: JSON.stringify({ label: "Bench teacher" }),
      });
      const body = (await res.body.json()) as { token?: string };
      if (res.statusCode !== 201 || body.token === undefined)
        throw new Error(
          `issuing a teacher of s${school}: ${res.statusCode} ${JSON.stringify(body)}`,
        );
      tokens.set(school, body.token);
    }
    api = { http, pollIds: new Set(sampled.map((k) => `m-${k}`)), tokens, ms: [], failed: [] };
  }
  // The writer ready (its durable consumer created) before anything is timed.
  const jsm = await jetstreamManager(nc);
  while (!(await jsm.consumers.info(run.names.stream, "batch-writer").catch(() => undefined)))
    await sleep(200);

  // Before the morning: every register's first document (nothing said yet, the group
  // pending), which the publisher writes for a new register.
  t = performance.now();
  log("waiting for the registers' first documents...");
  await waitForDocuments(morningLessons, heard, 0, "first documents");
  const firstDocsS = (performance.now() - t) / 1000;

  log(`the morning: ${int(o.pupils)} pupils, ${int(o.lessons)} lessons...`);
  const mornings = [
    await playMorning("morning", false, morningLessons, pool, redis, nc, heard, api),
  ];
  if (referenceLessons > 0) {
    log(`the reference: every pupil recorded, ${int(referenceLessons)} lessons...`);
    const lessons = await seedRegisters(pool, "r-", referenceLessons);
    await waitForDocuments(lessons, heard, 0, "reference first documents");
    mornings.push(await playMorning("reference", true, lessons, pool, redis, nc, heard));
  }

  // The report.
  const [m, ref] = mornings as [Morning, Morning | undefined];
  const scaleRef = ref === undefined ? Number.NaN : m.lessons / ref.lessons;
  const scaled = (x: number) => x * scaleRef;
  const saved = (mine: number, theirs: number) => 1 - mine / theirs;
  const full = o.pupils >= 10_000_000 && o.lessons >= 350_000;
  const rowFor = (x: Morning, factor: number, label: string) =>
    `| ${label} | ${int(x.lessons * factor)} | ${int(x.pupils * factor)} | ${int(x.events * factor)} | ${int(x.messages * factor)} | ${factor === 1 ? x.publishS.toFixed(1) : "—"} | ${factor === 1 ? `${x.storedS.toFixed(1)}` : "—"} | ${factor === 1 ? int(x.events / x.storedS) : "—"} | ${factor === 1 ? x.docsS.toFixed(1) : "—"} | ${int(x.writes.rows * factor)} | ${mb(x.writes.relationBytes * factor)} | ${mb(x.writes.walBytes * factor)} |`;
  const tables = [...new Set([...m.writes.byTable.keys(), ...(ref?.writes.byTable.keys() ?? [])])]
    .filter((tb) => (m.writes.byTable.get(tb) ?? 0) + (ref?.writes.byTable.get(tb) ?? 0) > 0)
    .sort();
  const lines = [
    "# bench:registers",
    "",
    machineLine(started),
    `command: ${benchCommand("bench:registers")}`,
    `${int(o.pupils)} pupils in ${int(o.lessons)} lessons of ${int(o.schools)} schools${full ? "" : " (scaled down from the national morning's 10,000,000 pupils in 350,000 lessons)"}, every lesson starting within ${int(o.windowMs / 60_000)} minutes, ${pctText(o.absent)} absent, ${pctText(o.corrections)} of the absences taken back after the completion; messages published straight to JetStream (the API's messages: a lesson's absences in one, each completion in one), ${o.inFlight} awaiting their ack at most, ${api === undefined ? "none through the HTTP API" : `${int(api.pollIds.size)} lessons of the morning through the ingest API (a process, as their teachers)`}; the writer and the publisher as processes (RESULTS_INTERVAL_MS ${int(o.intervalMs)}, REGISTER_MAX_DOCUMENTS_PER_RUN ${int(o.documentsPerRun)}); Postgres, NATS and Redis shared with other work on the machine`,
    `seeded in Postgres in ${seedS.toFixed(0)} s; the registers' first documents (before the morning) published in ${firstDocsS.toFixed(0)} s`,
    "",
    "| run | lessons | pupils | events | messages | published (s) | stored (s, first sent → last stored) | events/s sustained | last completion acked → every document published (s) | rows written | tables + indexes grown | WAL |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    rowFor(m, 1, "morning: absences and completions"),
    ...(ref === undefined
      ? []
      : [
          rowFor(ref, 1, "reference: every pupil recorded"),
          ...(scaleRef !== 1
            ? [
                rowFor(
                  ref,
                  scaleRef,
                  `reference × ${scaleRef.toFixed(2)} (extrapolated to the morning's lessons)`,
                ),
              ]
            : []),
        ]),
    ...(api === undefined
      ? []
      : [
          "",
          `the API's sample: ${int(api.pollIds.size)} lessons, ${int(m.apiRequests)} requests (absences in a batch, the completion, corrections) answered (timed in the bench process, which publishes the rest of the morning meanwhile) in p50 ${pct(api.ms, 0.5).toFixed(1)} ms, p99 ${pct(api.ms, 0.99).toFixed(1)} ms, max ${pct(api.ms, 1).toFixed(1)} ms, ${int(api.failed.length)} refused${api.failed.length > 0 ? ` (first: ${api.failed[0]})` : ""}; their documents are among those checked`,
        ]),
    "",
    ...(ref === undefined
      ? ["no reference run (--reference-pupils 0)"]
      : [
          "| written, per table (rows inserted + updated + deleted) | morning | reference" +
            (scaleRef !== 1 ? ` × ${scaleRef.toFixed(2)}` : "") +
            " |",
          "| --- | ---: | ---: |",
          ...tables.map(
            (tb) =>
              `| ${tb} | ${int(m.writes.byTable.get(tb) ?? 0)} | ${int(scaled(ref.writes.byTable.get(tb) ?? 0))} |`,
          ),
          `| register_states.roster: person ids written inside the completions' rows (not rows, not in the total) | ${int(m.rosterIds)} | ${int(scaled(ref.rosterIds))} |`,
          "",
          `saved against recording every pupil: events sent ${pctText(saved(m.events, scaled(ref.events)))}, rows written ${pctText(saved(m.writes.rows, scaled(ref.writes.rows)))}, table and index bytes ${pctText(saved(m.writes.relationBytes, scaled(ref.writes.relationBytes)))}, WAL bytes ${pctText(saved(m.writes.walBytes, scaled(ref.writes.walBytes)))} (the claim: ~${pctText(CLAIMED_SAVING)} fewer writes)`,
          `counting each id inside a roster as a row written too: ${pctText(saved(m.writes.rows + m.rosterIds, scaled(ref.writes.rows + ref.rosterIds)))} saved (${int(m.writes.rows + m.rosterIds)} against ${int(scaled(ref.writes.rows + ref.rosterIds))}); and in the morning only, as if recording every pupil needed no roster (the strictest count): ${pctText(saved(m.writes.rows + m.rosterIds, scaled(ref.writes.rows)))} saved`,
          "rows written: every table of the run's database (pg_stat_user_tables: inserted + updated + deleted, a HOT update counted as one); WAL bytes are the server's: another session's writes meanwhile count in them.",
        ]),
    ...mornings
      .filter((x) => x.wrong.length > 0)
      .flatMap((x) => [
        "",
        `${x.name}: ${int(x.wrong.length)} documents not as expected (first 5):`,
        ...x.wrong.slice(0, 5).map((w) => `- ${w}`),
      ]),
  ];
  const verdicts: Verdict[] = mornings.map((x) => ({
    what: `${x.name}: every register's document published with the expected counts`,
    measured: `${int(x.lessons - x.wrong.length)} of ${int(x.lessons)}`,
    target: `${int(x.lessons)}`,
    met: x.wrong.length === 0,
  }));
  if (api !== undefined)
    verdicts.push({
      what: "the API's sample: every request accepted (202, or 200 with no vote rejected)",
      measured: `${int(api.ms.length - api.failed.length)} of ${int(api.ms.length)}`,
      target: `${int(api.ms.length)}`,
      met: api.failed.length === 0 && api.ms.length > 0,
    });
  if (ref !== undefined)
    verdicts.push(
      valueVerdict(
        "events sent saved against recording every pupil",
        saved(m.events, scaled(ref.events)),
        "≥",
        CLAIMED_SAVING,
        pctText,
      ),
      valueVerdict(
        "rows written saved against recording every pupil (every table, the completion's included)",
        saved(m.writes.rows, scaled(ref.writes.rows)),
        "≥",
        CLAIMED_SAVING,
        pctText,
      ),
    );
  if (verdicts.some((v) => !v.met)) exitCode = 1;
  await api?.http.close();
  console.log([...lines, "", ...verdictLines(verdicts)].join("\n"));
} catch (err) {
  exitCode = 2;
  console.error(err);
} finally {
  for (const c of children.reverse()) await stopChild(c).catch(() => {});
  await subscriber.close().catch(() => {});
  if (!o.keep) {
    await unlinkKeysUnder(redis, run.names.redisKeyPrefix);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(run.names.stream).catch(() => false);
  }
  await nc.close();
  await redis.close().catch(() => {});
  await pool.end();
  if (!o.keep) await dropDatabase(run.databaseUrl);
}
process.exit(exitCode);
