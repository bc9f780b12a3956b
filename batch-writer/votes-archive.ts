import { createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { to as copyTo } from "pg-copy-streams";
import type { Logger } from "../common/logger.ts";
import { type Pool, type PoolClient, pgCode } from "../common/postgres.ts";

// VOTES_ARCHIVE_DIR (migration 040): retention that archives before it drops. Each monthly
// partition of `votes` past VOTES_RETENTION_DAYS is written to `<dir>/votes_pYYYY_MM.csv.gz`
// (CSV with a header, the columns of `votes`: docs/pipeline.md says how to load it back
// with psql), made durable (fsync of the file, then of the directory after the rename),
// and only then dropped. A file that cannot be written (disk full, no permission) leaves
// the partition in place and the pass failing loudly (VotesPartitions logs it every pass
// until it works): nothing is dropped that is not on disk.
//
// A month at the reference rate is ~300 million rows: its COPY runs for minutes, so it runs
// beside the batches on a connection of its own (VotesPartitions starts it and does not
// wait), never on a batch's path. It reads through `votes` with the partition key's range
// (pruned to that one partition) because the writer's role has no grant on the partitions
// themselves; the writers refuse votes past the horizon (votes-retention.ts), so no row
// joins a partition being archived. Writers archive one at a time (a session advisory lock):
// a second one skips the pass.

/** A partition archived and dropped. */
export interface ArchivedPartition {
  partition: string;
  file: string;
  rows: number;
  bytes: number;
}

interface Expired {
  partition_name: string;
  month_start: Date;
  month_end: Date;
}

/** The file a partition is archived to. */
export const archiveFileOf = (dir: string, partition: string) => join(dir, `${partition}.csv.gz`);

/**
 * Archives then drops every partition past `keepDays`, oldest first; resolves to those
 * done. Stops (without error) at one held past the drop's 1 s lock timeout: the next pass
 * takes it, its file written again. Throws when a file cannot be written.
 */
export async function archiveExpiredPartitions(
  pool: Pool,
  keepDays: number,
  dir: string,
  logger: Logger,
  signal?: AbortSignal,
): Promise<ArchivedPartition[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const { rows: lock } = await client.query<{ ok: boolean }>(
      "select pg_try_advisory_lock(hashtext('votes_archive')) as ok",
    );
    if (!lock[0]!.ok) return [];
    const done = await archiveLocked(client, keepDays, dir, logger, signal);
    // Only after a pass that ended cleanly: a failed or aborted one may have left the client
    // mid-COPY, where a query would wait for ever; its connection is destroyed instead
    // (below), which releases the session lock with it.
    await client.query("select pg_advisory_unlock(hashtext('votes_archive'))");
    return done;
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // A client that failed mid-COPY is not given back to the pool.
    client.release(broken);
  }
}

/** The pass itself, the archive lock held. */
async function archiveLocked(
  client: PoolClient,
  keepDays: number,
  dir: string,
  logger: Logger,
  signal: AbortSignal | undefined,
): Promise<ArchivedPartition[]> {
  const { rows } = await client.query<Expired>(
    "select * from votes_expired_partitions(make_interval(days => $1))",
    [keepDays],
  );
  const done: ArchivedPartition[] = [];
  if (rows.length > 0) await mkdir(dir, { recursive: true });
  for (const row of rows) {
    if (signal?.aborted) break;
    const file = archiveFileOf(dir, row.partition_name);
    const archived = await writeArchive(client, row, file, signal);
    let dropped: boolean;
    try {
      const { rows: result } = await client.query<{ dropped: boolean }>(
        "select votes_drop_expired_partition($1, make_interval(days => $2)) as dropped",
        [row.partition_name, keepDays],
      );
      dropped = result[0]!.dropped;
    } catch (err) {
      // Busy behind a query or an open transaction: the file stays (written again next
      // time, the same rows), the partition for the next pass.
      if (pgCode(err) === "55P03") break;
      throw err;
    }
    if (!dropped) continue; // another writer dropped it meanwhile: its file is the same
    const entry = { partition: row.partition_name, file, ...archived };
    logger.info(entry, "votes partition past retention archived, then dropped");
    done.push(entry);
  }
  return done;
}

/** One month's rows into `file` (through a partial file renamed once durable). */
async function writeArchive(
  client: PoolClient,
  month: Expired,
  file: string,
  signal: AbortSignal | undefined,
): Promise<{ rows: number; bytes: number }> {
  const partial = `${file}.partial-${process.pid}`;
  // Instants from Postgres's own month bounds: ISO strings, so no quoting question arises.
  const from = month.month_start.toISOString();
  const to = month.month_end.toISOString();
  const copy = client.query(
    copyTo(
      `copy (select * from votes
             where event_id_time(event_id) >= '${from}'::timestamptz
               and event_id_time(event_id) < '${to}'::timestamptz)
       to stdout with (format csv, header true)`,
    ),
  );
  try {
    // Aborted (the writer stopping): the COPY is cut, its client not reused.
    await pipeline(copy, createGzip(), createWriteStream(partial), { signal });
    const handle = await open(partial, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, file);
    const dirHandle = await open(join(file, ".."), "r");
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return { rows: copy.rowCount, bytes: (await stat(file)).size };
}
