import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { from as copyFrom } from "pg-copy-streams";
import { copyChunks, STAGING_COLUMNS } from "../../batch-writer/copy-rows.ts";
import type { DecodedVote } from "../../batch-writer/decode.ts";
import type { Pool } from "../../common/postgres.ts";
import { encodeVoteMessage, type StoredVote } from "../../common/vote.ts";
import { ensureVotesStream } from "../../common/votes-stream.ts";
import { startNode, stopChild } from "../../harness/child-processes.ts";
import { peakRssMb } from "./proc-stats.ts";

// The real batch writer as the benchmarks run it: votes published to a JetStream stream of
// the bench's own (grouped by poll as the ingest API does, one subject per poll), then a
// writer process (batch-writer/main.ts) started on it and timed from its "started" line
// until its consumer has every message acked. Shared by bench:writer and bench:history.

export interface WriterBench {
  dbUrl: string;
  natsUrl: string;
  stream: string;
  subjectPrefix: string;
}

/** (Re)creates the stream with `votes` in messages of `votesPerMessage`; resolves to their count. */
export async function fillStream(
  bench: WriterBench,
  votes: readonly StoredVote[],
  votesPerMessage: number,
): Promise<number> {
  const nc = await connect({ servers: bench.natsUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(bench.stream).catch(() => false);
  await ensureVotesStream(nc, {
    streamName: bench.stream,
    subjectPrefix: bench.subjectPrefix,
    duplicateWindowMs: 600_000,
    maxBytes: 0,
    replicas: 1,
  });
  const js = jetstream(nc);
  const byPoll = new Map<string, StoredVote[]>();
  let inFlight: Promise<unknown>[] = [];
  let messages = 0;
  const flush = async (pollId: string, group: StoredVote[]) => {
    inFlight.push(
      js.publish(`${bench.subjectPrefix}.${pollId}`, encodeVoteMessage(group), {
        msgID: group.length === 1 ? group[0]!.eventId : `b-${group[0]!.eventId}`,
      }),
    );
    messages++;
    if (inFlight.length >= 2_000) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  };
  for (const v of votes) {
    const group = byPoll.get(v.pollId) ?? [];
    group.push(v);
    if (group.length >= votesPerMessage) {
      byPoll.delete(v.pollId);
      await flush(v.pollId, group);
    } else byPoll.set(v.pollId, group);
  }
  for (const [pollId, group] of byPoll) await flush(pollId, group);
  await Promise.all(inFlight);
  await nc.close();
  return messages;
}

/**
 * Deletes the bench's stream (and so its consumers), and the stream of max-delivery
 * advisories the writer made beside it (`<stream>_MAXDELIVER`), which would outlive the run
 * in the shared NATS otherwise.
 */
export async function deleteStream(bench: WriterBench): Promise<void> {
  const nc = await connect({ servers: bench.natsUrl });
  const jsm = await jetstreamManager(nc);
  for (const stream of [bench.stream, `${bench.stream}_MAXDELIVER`])
    await jsm.streams.delete(stream).catch(() => false);
  await nc.close();
}

/**
 * Starts a writer on the stream (a new durable consumer `consumer`), waits until it has
 * acked all `messages`, stops it. Resolves to the seconds from its "batch writer started"
 * line to the last ack, and its peak RSS.
 */
export async function drainWithWriter(
  bench: WriterBench,
  opts: { messages: number; batchMaxMessages: number; consumer: string; env?: NodeJS.ProcessEnv },
): Promise<{ seconds: number; peakRssMb: number }> {
  const nc = await connect({ servers: bench.natsUrl });
  const jsm = await jetstreamManager(nc);
  let startedAt = 0;
  const child = startNode("writer", ["batch-writer/main.ts"], {
    ...process.env,
    DATABASE_URL: bench.dbUrl,
    NATS_URL: bench.natsUrl,
    STREAM_NAME: bench.stream,
    SUBJECT_PREFIX: bench.subjectPrefix,
    CONSUMER_NAME: opts.consumer,
    BATCH_MAX_MESSAGES: String(opts.batchMaxMessages),
    MAX_ACK_PENDING: String(Math.max(20_000, opts.batchMaxMessages * 3)),
    WRITER_METRICS_PORT: "0",
    LOG_LEVEL: process.env.BENCH_WRITER_LOG ?? "info",
    ...opts.env,
  });
  child.process.stdout?.on("data", (chunk: Buffer) => {
    if (startedAt === 0 && chunk.toString().includes("batch writer started"))
      startedAt = performance.now();
  });
  let done = 0;
  let peak = 0;
  try {
    for (;;) {
      await sleep(100);
      peak = Math.max(peak, peakRssMb(child.pid) || 0);
      if (startedAt === 0) continue;
      const info = await jsm.consumers.info(bench.stream, opts.consumer).catch(() => undefined);
      if (
        info &&
        info.num_pending === 0 &&
        info.num_ack_pending === 0 &&
        info.delivered.stream_seq >= opts.messages
      ) {
        done = performance.now();
        break;
      }
    }
    peak = Math.max(peak, peakRssMb(child.pid) || 0);
  } finally {
    await stopChild(child);
    await nc.close();
  }
  return { seconds: (done - startedAt) / 1000, peakRssMb: peak };
}

/**
 * The reference a writer's rate is read against: one COPY FROM STDIN of the same rows into
 * an empty, unpartitioned copy of votes with the same indexes, measured on `pool`'s
 * database. Resolves to rows/s.
 */
export async function copyReference(pool: Pool, votes: readonly StoredVote[]): Promise<number> {
  await pool.query("drop table if exists reference_votes");
  await pool.query("create table reference_votes (like votes including all)");
  // votes' unique key is each partition's own index (migrations 033, 047: (poll_id,
  // event_id)), which LIKE cannot copy from the partitioned table: the reference pays for it
  // too, as the partitions' maintenance builds it (time_partitioned_tables, migration 044).
  const { rows: keys } = await pool.query<{ spec: string }>(
    "select unnest(unique_keys) as spec from time_partitioned_tables where parent = 'votes'",
  );
  for (const k of keys) await pool.query(`create unique index on reference_votes ${k.spec}`);
  const rows: DecodedVote[] = votes.map((v, i) => ({ ...v, streamSeq: i + 1 }));
  const client = await pool.connect();
  const started = performance.now();
  try {
    await pipeline(
      Readable.from(copyChunks(rows, 5_000)),
      client.query(copyFrom(`copy reference_votes (${STAGING_COLUMNS}) from stdin`)),
    );
  } finally {
    client.release();
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.query("drop table reference_votes");
  return votes.length / seconds;
}
