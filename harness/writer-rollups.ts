import { LOG_POLL_CHANGES } from "../batch-writer/store-batch.ts";
import type { Pool, PoolClient } from "../common/postgres.ts";
import { eventually } from "./waiting.ts";

/**
 * SQL that writes the rollup rows `select` gives (columns poll_id, option_id, bucket_start,
 * count) as one batch writer transaction writes them (batch-writer/store-batch.ts,
 * migration 048): each poll's change marker bumped first (poll_id order), one
 * poll_change_log row per poll (the writer's own statement), then the rollup rows (key order) folded in and stamped with
 * their poll's new change_seq. For tests and benchmarks that write rollups without votes
 * through the writer: a row written any other way is invisible to the publisher's delta read.
 * `changedAt` is the SQL of the markers' changed_at (a parameter, or the clock).
 */
export function asWriterBatch(select: string, changedAt = "clock_timestamp()"): string {
  return `
    with batch as (${select}),
    changed as (
      insert into poll_changes as c (poll_id, change_seq, last_stream_seq, changed_at)
      select poll_id, 1, 1, ${changedAt} from batch group by poll_id order by poll_id
      on conflict (poll_id) do update set change_seq = c.change_seq + 1,
        changed_at = excluded.changed_at
      returning poll_id, change_seq
    ), logged as (
      ${LOG_POLL_CHANGES}
    )
    insert into vote_rollups as r (poll_id, option_id, bucket_start, count, change_seq)
    select b.poll_id, b.option_id, b.bucket_start, b.count, c.change_seq
    from batch b join changed c on c.poll_id = b.poll_id
    order by 1, 2, 3
    on conflict (poll_id, option_id, bucket_start)
      do update set count = r.count + excluded.count, change_seq = excluded.change_seq`;
}

export interface WriterTransaction {
  commit(): Promise<void>;
  /** For cleanup after a failure: a no-op once committed. */
  rollback(): Promise<void>;
}

/**
 * A transaction that writes what one batch writer transaction writes for `n` votes of one
 * option (the rows, the poll's change marker and its log row, the rollup bucket stamped with
 * its change_seq), held open until commit(): two of these overlap in an order the single
 * in-process writer cannot produce on demand. `lock` (e.g. `vote_rollups in access exclusive
 * mode`) is taken first and held to the end: a publishing run can be stopped at the
 * statement that needs that table, on the server, with no hook.
 */
export async function openWriterTransaction(
  pool: Pool,
  pollId: string,
  optionId: string,
  n: number,
  { lock }: { lock?: string } = {},
): Promise<WriterTransaction> {
  const client: PoolClient = await pool.connect();
  try {
    await client.query("begin");
    if (lock !== undefined) await client.query(`lock table ${lock}`);
    await client.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       select gen_random_uuid(), $1, $2, 'k1', now(), now(), 1 from generate_series(1, $3::int)`,
      [pollId, optionId, n],
    );
    await client.query(
      asWriterBatch(
        `select $1::text as poll_id, $2::text as option_id,
                rollup_bucket_start(now()) as bucket_start, $3::bigint as count`,
      ),
      [pollId, optionId, n],
    );
  } catch (err) {
    await client.query("rollback").catch(() => {});
    client.release();
    throw err;
  }
  let open = true;
  return {
    async commit() {
      open = false;
      try {
        await client.query("commit");
      } finally {
        client.release();
      }
    },
    async rollback() {
      if (!open) return;
      open = false;
      await client.query("rollback").catch(() => {});
      client.release();
    },
  };
}

/**
 * Starts `run` (a publishing run) while `tx` holds its lock on `table`, waits until the run
 * is stopped at that lock on the server, then commits `tx` and waits for the run to end: the
 * batch commits between what the run did before it needed `table` and what it does after.
 */
export async function runAcrossCommit(
  pool: Pool,
  table: string,
  tx: WriterTransaction,
  run: () => Promise<unknown>,
  what: string,
): Promise<void> {
  let running: Promise<unknown> | undefined;
  try {
    running = run();
    // Handled at once: the run may fail while this waits or commits (a test may expect it
    // to), and an unhandled rejection would fail the test by itself. `await running`
    // below still throws it.
    running.catch(() => {});
    await eventually(what, async () => {
      const { rows } = await pool.query<{ n: number }>(
        "select count(*)::int as n from pg_locks where relation = $1::regclass and not granted",
        [table],
      );
      return rows[0]!.n > 0 ? true : undefined;
    });
    await tx.commit();
    await running;
  } finally {
    await tx.rollback();
    await running?.catch(() => {});
  }
}
