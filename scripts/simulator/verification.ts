import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { from as copyFrom } from "pg-copy-streams";
import { readCommonConfig } from "../../common/config.ts";
import { readName } from "../../common/env.ts";
import { createLogger } from "../../common/logger.ts";
import { type NatsAuth, natsConnectAuth, readNatsAuth } from "../../common/nats-auth.ts";
import { createPool, type Pool, type PoolClient } from "../../common/postgres.ts";
import { connectRedis, type RedisClient } from "../../common/redis.ts";
import { resultsKeys } from "../../common/results-contract.ts";
import { loadPolls, publishedVersion } from "../../result-publisher/published-version.ts";
import { pendingChangesNow, waitForAttendancePublisher } from "../checks/attendance-caught-up.ts";
import {
  type DocumentReconciliation,
  formatDocumentReconciliation,
  reconcileAttendanceDocuments,
} from "../checks/attendance-documents.ts";
import { formatReconciliation, reconcile } from "../checks/reconcile.ts";
import type { AttendanceRunRecord } from "./attendance-simulation.ts";
import { eventIdsPath, type RunMeta, readEventIds, readRunMeta } from "./run-file.ts";
import { fmtInt } from "./stats.ts";

/** Slack on the run's time window when looking for votes it did not send. */
const RECEIVED_AT_MARGIN_MS = 100;

// `npm run verify`: after the pipeline drained, exactly the votes that got a 202 in a
// simulation run are in Postgres (none lost, none extra), and the published results
// agree with `votes`. The run's eventIds are COPYed into a temp table and joined. After an
// attendance run (`--attendance-days`) the events are checked the same way, and each school's
// published day document of every day played is compared with the same day computed from
// scratch over the raw events by migration 022 (counts and lists, per school and group).

export interface VerifyOptions {
  runFile: string;
  databaseUrl: string;
  natsUrl: string;
  /** The operator's NATS user (the migration's): it may read the writers' consumer. */
  natsAuth: NatsAuth;
  redisUrl: string;
  redisKeyPrefix: string;
  streamName: string;
  consumerName: string;
  /** How long to wait for the writers to drain the stream. */
  drainTimeoutMs: number;
  /** How long to wait, after that, for the publisher to publish the current versions. */
  publishTimeoutMs: number;
  log: (line: string) => void;
}

export interface VerifyResult {
  ok: boolean;
  eventIds: number;
  stored: number;
  missing: number;
  extra: number;
  uncertainStored: number;
  reconcileDifferences: number;
  /** Attendance runs: school-day documents missing or differing from the events. */
  attendanceDifferences?: number;
  problems: string[];
  seconds: { drain: number; publish: number; check: number };
}

/** Where verify looks: the services' own settings. */
export type VerifyTarget = Pick<
  VerifyOptions,
  | "databaseUrl"
  | "natsUrl"
  | "natsAuth"
  | "redisUrl"
  | "redisKeyPrefix"
  | "streamName"
  | "consumerName"
>;

/** The target as the services read it from `env`; throws ConfigError naming a bad variable. */
export function verifyTargetFromEnv(env: NodeJS.ProcessEnv): VerifyTarget {
  const config = readCommonConfig(env);
  return {
    databaseUrl: config.databaseUrl,
    natsUrl: config.natsUrl,
    natsAuth: readNatsAuth(env, "migrate"),
    redisUrl: config.redisUrl,
    redisKeyPrefix: config.redisKeyPrefix,
    streamName: config.streamName,
    consumerName: readName(env, "CONSUMER_NAME", "batch-writer"),
  };
}

/** Waits until the writers' durable consumer has nothing pending or unacked. */
export async function waitForDrain(
  natsUrl: string,
  natsAuth: NatsAuth,
  stream: string,
  consumer: string,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<{ drained: boolean; pending: number }> {
  const nc = await connect({
    servers: natsUrl.split(","),
    name: "verify",
    ...natsConnectAuth(natsAuth),
  });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + timeoutMs;
    let lastLog = Date.now();
    for (;;) {
      const info = await jsm.consumers.info(stream, consumer);
      const pending = info.num_pending + info.num_ack_pending;
      if (pending === 0) return { drained: true, pending };
      if (Date.now() >= deadline) return { drained: false, pending };
      if (Date.now() - lastLog >= 5_000) {
        log(`waiting for the writers: ${fmtInt(pending)} messages pending`);
        lastLog = Date.now();
      }
      await sleep(250);
    }
  } finally {
    await nc.close();
  }
}

/** Polls whose published version is not the one their current data calls for. */
export async function unpublishedPolls(
  pool: Pool,
  redis: RedisClient,
  keyPrefix: string,
): Promise<string[]> {
  let polls = await loadPolls(pool);
  if (polls.length === 0) return [];
  const now = Date.now();
  // Attendance registers publish no vote results (their documents are checked apart).
  const { rows } = await pool.query<{ id: string }>(
    "select id from polls where kind = 'attendance'",
  );
  const registers = new Set(rows.map((r) => r.id));
  polls = polls.filter((p) => !registers.has(p.id));
  if (polls.length === 0) return [];
  const versions = await redis.mGet(polls.map((p) => resultsKeys(keyPrefix, p.id).version));
  return polls.filter((p, i) => versions[i] !== publishedVersion(p, now)).map((p) => p.id);
}

async function copyEventIds(client: PoolClient, path: string): Promise<void> {
  async function* chunks() {
    let buffer: string[] = [];
    for await (const id of readEventIds(path)) {
      buffer.push(id);
      if (buffer.length >= 10_000) {
        yield `${buffer.join("\n")}\n`;
        buffer = [];
      }
    }
    if (buffer.length > 0) yield `${buffer.join("\n")}\n`;
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom("copy run_events from stdin")));
}

const SAMPLE = 10;

export async function verifyRun(o: VerifyOptions): Promise<VerifyResult> {
  const meta: RunMeta = await readRunMeta(o.runFile);
  const problems: string[] = [];
  o.log(
    `run ${o.runFile}: ${fmtInt(meta.eventIdCount)} eventIds got a 202 from ${meta.kioskIds.length} kiosks, ${meta.startedAt} → ${meta.endedAt}`,
  );

  let t = performance.now();
  const drain = await waitForDrain(
    o.natsUrl,
    o.natsAuth,
    o.streamName,
    o.consumerName,
    o.drainTimeoutMs,
    o.log,
  );
  const drainS = (performance.now() - t) / 1000;
  if (drain.drained)
    o.log(`pipeline drained: consumer ${o.consumerName} on ${o.streamName} has nothing pending`);
  else
    problems.push(
      `the writers did not drain the stream within ${o.drainTimeoutMs / 1000} s (${fmtInt(drain.pending)} messages pending): is a writer running?`,
    );

  const logger = createLogger("warn", { service: "verify" });
  const pool = createPool(o.databaseUrl, logger, { max: 2, applicationName: "verify" });
  const redis = await connectRedis(o.redisUrl, logger, "verify");
  try {
    t = performance.now();
    let behind: string[] = [];
    if (drain.drained) {
      const deadline = Date.now() + o.publishTimeoutMs;
      for (;;) {
        behind = await unpublishedPolls(pool, redis, o.redisKeyPrefix);
        if (behind.length === 0 || Date.now() >= deadline) break;
        await sleep(250);
      }
      if (behind.length === 0)
        o.log("publisher caught up: every poll's current version is published");
      else
        problems.push(
          `the publisher did not publish the current version of ${behind.join(", ")} within ${o.publishTimeoutMs / 1000} s: is it running?`,
        );
    }
    const publishS = (performance.now() - t) / 1000;

    t = performance.now();
    // Temp tables live on one connection: every query of the check runs on this client.
    const client = await pool.connect();
    let result: VerifyResult;
    try {
      await client.query("create temp table run_events (event_id uuid not null)");
      await copyEventIds(client, eventIdsPath(o.runFile, meta));
      await client.query("analyze run_events");
      // Each query below compares the run's ids with every vote of its kiosks: a hash or
      // merge join, never a nested loop. votes has no index on event_id alone (its key is
      // (poll_id, event_id), migration 047), and right after a run its newest partition is
      // not analyzed yet: at 10 million votes the planner guessed 200 stored ids and chose a
      // nested loop over 10 million × 10 million (npm run bench's check ran for over 20
      // minutes and was stopped). For this session only (released with it, reset below).
      await client.query("set enable_nestloop = off");
      const counts =
        // The key is the poll and the eventId (migration 047): the simulator never sends one
        // id to two polls, so an id with more than one row is a vote stored under a poll it
        // was not sent to.
        (
          await client.query<{ n: number; distinct_n: number; stored: number; twice: number }>(`
          with ids as (select event_id, count(*) as listed from run_events group by event_id),
               rows as (select v.event_id, count(*) as n from votes v join ids using (event_id)
                        group by v.event_id)
          select sum(ids.listed)::bigint as n, count(*) as distinct_n,
                 count(rows.event_id) as stored, count(*) filter (where rows.n > 1) as twice
          from ids left join rows using (event_id)`)
        ).rows[0]!;
      if (counts.n !== counts.distinct_n)
        problems.push(`the run file lists ${fmtInt(counts.n - counts.distinct_n)} eventIds twice`);
      if (counts.n !== meta.eventIdCount)
        problems.push(
          `the run file holds ${fmtInt(counts.n)} eventIds, its metadata says ${fmtInt(meta.eventIdCount)}`,
        );
      if (counts.twice > 0)
        problems.push(
          `TWICE: ${fmtInt(counts.twice)} eventIds are stored under more than one poll`,
        );
      const missing = counts.distinct_n - counts.stored;
      o.log(
        `stored: ${fmtInt(counts.stored)} of ${fmtInt(counts.distinct_n)} eventIds that got a 202 are in votes`,
      );
      if (missing > 0) {
        const { rows } = await client.query<{
          event_id: string;
          rejected: string | null;
          dead: boolean;
        }>(
          `select r.event_id,
                  (select reason from rejected_votes x where x.event_id = r.event_id) as rejected,
                  exists (select 1 from dead_letters d
                          where position(convert_to(r.event_id::text, 'UTF8') in d.raw) > 0) as dead
           from run_events r left join votes v using (event_id)
           where v.event_id is null limit ${SAMPLE}`,
        );
        problems.push(
          `LOST: ${fmtInt(missing)} votes got a 202 but are not in votes, e.g.\n${rows
            .map(
              (r) =>
                `    ${r.event_id}${r.rejected ? ` (in rejected_votes: ${r.rejected})` : ""}${r.dead ? " (in dead_letters)" : ""}`,
            )
            .join("\n")}`,
        );
      }

      // The run's own votes: its kiosks, received while it ran. received_at is the API's
      // clock and the run's start and end are the simulator's, on the same machine, and
      // every request of the run was sent after its start and answered before its end, so
      // the margin only covers rounding. A wider one reached into the previous run of the
      // same kiosks (`npm run bench` starts its steps less than a second apart) and
      // reported that run's last votes as extra.
      const from = new Date(Date.parse(meta.startedAt) - RECEIVED_AT_MARGIN_MS);
      const to = new Date(Date.parse(meta.endedAt) + RECEIVED_AT_MARGIN_MS);
      await client.query("create temp table run_uncertain (event_id uuid primary key)");
      if (meta.uncertainEventIds.length > 0)
        await client.query(
          "insert into run_uncertain select unnest($1::uuid[]) on conflict do nothing",
          [meta.uncertainEventIds],
        );
      const extraRows = (
        await client.query<{ event_id: string; kiosk_id: string; uncertain: boolean }>(
          `select v.event_id, v.kiosk_id,
                  exists (select 1 from run_uncertain u where u.event_id = v.event_id) as uncertain
           from votes v
           where v.kiosk_id = any($1::text[]) and v.received_at between $2 and $3
             and not exists (select 1 from run_events r where r.event_id = v.event_id)`,
          [meta.kioskIds, from, to],
        )
      ).rows;
      const uncertainStored = extraRows.filter((r) => r.uncertain).length;
      const extra = extraRows.filter((r) => !r.uncertain);
      const inWindow = (
        await client.query<{ n: number }>(
          `select count(*) as n from votes
           where kiosk_id = any($1::text[]) and received_at between $2 and $3`,
          [meta.kioskIds, from, to],
        )
      ).rows[0]!.n;
      o.log(
        `the run's kiosks stored ${fmtInt(inWindow)} votes between ${from.toISOString()} and ${to.toISOString()}: ` +
          `${fmtInt(inWindow - extraRows.length)} listed in the run file, ${fmtInt(extra.length)} extra` +
          (uncertainStored > 0
            ? `, ${fmtInt(uncertainStored)} sent without a 202 seen (timeout or 5xx) and stored anyway (not an error)`
            : ""),
      );
      if (extra.length > 0)
        problems.push(
          `EXTRA: ${fmtInt(extra.length)} votes from the run's kiosks in its time window never got a 202, e.g.\n${extra
            .slice(0, SAMPLE)
            .map((r) => `    ${r.event_id} (kiosk ${r.kiosk_id})`)
            .join(
              "\n",
            )}\n  (another simulation with the same kiosks at the same time also counts here)`,
        );

      const rec = await reconcile(pool, redis, o.redisKeyPrefix);
      o.log(
        `published results against SQL counts:\n${formatReconciliation(rec)
          .trimEnd()
          .split("\n")
          .map((l) => `  ${l}`)
          .join("\n")}`,
      );
      if (rec.differences > 0)
        problems.push(`${rec.differences} poll(s) publish totals that differ from votes`);
      const attendance = meta.options.attendance as AttendanceRunRecord | undefined;
      let attendanceDifferences: number | undefined;
      if (attendance !== undefined) {
        const docs = await attendanceDocuments(pool, redis, o, attendance);
        attendanceDifferences = docs.differences;
        if (docs.differences > 0)
          problems.push(
            `${docs.differences} school-day attendance document(s) differ from the events (or are not published)`,
          );
      }
      result = {
        ok: problems.length === 0,
        eventIds: counts.distinct_n,
        stored: counts.stored,
        missing,
        extra: extra.length,
        uncertainStored,
        reconcileDifferences: rec.differences,
        ...(attendanceDifferences === undefined ? {} : { attendanceDifferences }),
        problems,
        seconds: { drain: drainS, publish: publishS, check: (performance.now() - t) / 1000 },
      };
    } finally {
      await client.query("reset enable_nestloop").catch(() => {});
      client.release();
    }
    return result;
  } finally {
    await redis.close();
    await pool.end();
  }
}

/**
 * The run's school-days' published documents against the events (migration 022), once the
 * publisher has caught up: its cursor covers what is committed now (the pipeline drained),
 * so that a pass over many schools, seconds each, never judges the first ones by a look
 * taken before the publisher's lagging run rewrote them; then tried again until they agree
 * or publishTimeoutMs passed.
 */
async function attendanceDocuments(
  pool: Pool,
  redis: RedisClient,
  o: VerifyOptions,
  run: AttendanceRunRecord,
): Promise<DocumentReconciliation> {
  const config = readCommonConfig(process.env);
  const deadline = Date.now() + o.publishTimeoutMs;
  const drained = await pendingChangesNow(pool);
  if (
    (await waitForAttendancePublisher(
      pool,
      redis,
      o.redisKeyPrefix,
      drained,
      o.publishTimeoutMs,
    )) === undefined
  )
    o.log(
      `the attendance publisher had not published everything stored within ${o.publishTimeoutMs / 1000} s: documents checked as they are`,
    );
  const schools = Object.keys(run.days).sort();
  let result: DocumentReconciliation;
  for (;;) {
    result = { schools: [], differences: 0 };
    for (const schoolId of schools) {
      const r = await reconcileAttendanceDocuments(pool, redis, o.redisKeyPrefix, {
        schoolId,
        days: run.days[schoolId],
        daysKept: config.attendanceDaysKept,
        listed: 10,
      });
      result.schools.push(...r.schools);
      result.differences += r.differences;
    }
    if (result.differences === 0 || Date.now() >= deadline) break;
    await sleep(1_000);
  }
  const checked = result.schools.reduce((n, s) => n + s.days, 0);
  o.log(
    `published attendance documents against the events (migration 022), ${checked} school-days:\n${formatDocumentReconciliation(
      result,
    )
      .trimEnd()
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n")}`,
  );
  if (checked === 0) o.log("  (none of the run's days is kept any more: nothing compared)");
  return result;
}
