import type { Pool } from "../common/postgres.ts";

// A deleted poll's votes leave in the background (migration 031, batch-writer/poll-purge.ts).
// Tests that look at what a delete left, or create the id again, finish the purge first, as
// a writer would given a moment.

/** Runs the purge's bounded steps until no deleted poll is left; resolves to the rows removed. */
export async function drainPollPurges(
  pool: Pick<Pool, "query">,
  stepRows = 10_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ purged: string }>(
      "select purged::text from purge_deleted_polls($1)",
      [stepRows],
    );
    if (rows.length === 0) return total;
    total += Number(rows[0]!.purged);
  }
}
