import type { Pool } from "../common/postgres.ts";

// Registry rows written straight in SQL, for tests and benchmarks alike (scripts/ and
// test-support/ import each other not: harness/ is what both may share).

/**
 * Inserts a poll and its options straight into the registry tables, its slug its id. No
 * notification (ingest-api/registry/registry-changes.ts): for the writer's tests and
 * benches, where nothing LISTENs, and usable on a schema before migration 052 (the
 * upgrade tests); a test whose API or publisher must hear of it calls pollsInserted.
 */
export async function insertPoll(
  pool: Pool,
  id: string,
  options: string[],
  { oneVotePerVoter = false }: { oneVotePerVoter?: boolean } = {},
): Promise<void> {
  await pool.query(
    "insert into polls (id, slug, title, one_vote_per_voter) values ($1, $1, $2, $3)",
    [id, `Poll ${id}`, oneVotePerVoter],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select $1, o, 'Option ' || o, n from unnest($2::text[]) with ordinality as t(o, n)`,
    [id, options],
  );
}
