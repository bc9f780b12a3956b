import pg from "pg";
import type { Pool } from "../../common/postgres.ts";

// Bulk loads into `votes` (bench:reports, bench:results) drop its unique keys and build them
// after the load, as one restores a large table. Since migration 033 those keys are each
// partition's own unique index, on (poll_id, event_id) since 047 (a table partitioned by an
// expression has none of its own): dropVotesKeys drops every one, restoreVotesKeys has the partitions'
// maintenance build each again (votes_ensure_partitions gives a partition without one its
// index).

/** Drops the unique index (or the primary key holding it) of every partition of votes. */
export async function dropVotesKeys(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ tbl: string; idx: string; con: string | null }>(`
    select i.indrelid::regclass::text as tbl, i.indexrelid::regclass::text as idx,
           c.conname as con
    from pg_partition_tree('votes') t
    join pg_index i on i.indrelid = t.relid
    left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid
    where t.isleaf and i.indisunique`);
  for (const r of rows)
    await pool.query(
      r.con === null
        ? `drop index ${r.idx}`
        : `alter table ${r.tbl} drop constraint ${pg.escapeIdentifier(r.con)}`,
    );
}

/**
 * An index definition as Postgres gives it (pg_indexes, pg_get_indexdef) built again on
 * every partition: of a partitioned table's index it says `ON ONLY`, which makes an invalid
 * index on the parent alone (bench:reports timed every report without an index that way
 * from migration 033 until this was found).
 */
export const onEveryPartition = (indexdef: string) => indexdef.replace(" ON ONLY ", " ON ");

/** Drops the indexes of votes but the event id keys; resolves to their definitions. */
export async function dropVotesIndexes(pool: Pool): Promise<{ name: string; def: string }[]> {
  const { rows } = await pool.query<{ name: string; def: string }>(
    "select indexname as name, indexdef as def from pg_indexes where tablename = 'votes'",
  );
  for (const ix of rows) await pool.query(`drop index ${ix.name}`);
  return rows;
}

/** Fails if an index of votes (or of a partition) is invalid: timings over it would lie. */
export async function assertVotesIndexesValid(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ name: string }>(`
    select i.indexrelid::regclass::text as name
    from pg_partition_tree('votes') t join pg_index i on i.indrelid = t.relid
    where not i.indisvalid`);
  if (rows.length > 0)
    throw new Error(`invalid indexes on votes: ${rows.map((r) => r.name).join(", ")}`);
}

/** Builds indexes dropVotesKeys/dropVotesIndexes dropped, on every partition, and checks them. */
export async function buildVotesIndexes(
  pool: Pool,
  indexes: readonly { name: string; def: string }[],
  each: (name: string, build: () => Promise<unknown>) => Promise<unknown> = (_, build) => build(),
): Promise<void> {
  for (const ix of indexes) await each(ix.name, () => pool.query(onEveryPartition(ix.def)));
  await assertVotesIndexesValid(pool);
}

/** Builds every partition's unique index on (poll_id, event_id) again. */
export async function restoreVotesKeys(pool: Pool): Promise<void> {
  await pool.query("select votes_ensure_partitions()");
}

/** Sizes of votes summed over its partitions: the table, its indexes, and each index. */
export async function votesSizes(pool: Pool): Promise<{
  table: string;
  indexes: string;
  each: { name: string; size: string }[];
}> {
  const { rows } = await pool.query<{ table: string; indexes: string }>(`
    select pg_size_pretty(sum(pg_table_size(relid))) as table,
           pg_size_pretty(sum(pg_indexes_size(relid))) as indexes
    from pg_partition_tree('votes') where isleaf`);
  // Each partitioned index summed over its partitions' indexes, and the partitions' keys.
  const { rows: each } = await pool.query<{ name: string; size: string }>(`
    select i.indexrelid::regclass::text as name,
           pg_size_pretty((select sum(pg_relation_size(t.relid))
                           from pg_partition_tree(i.indexrelid) t)) as size
    from pg_index i where i.indrelid = 'votes'::regclass
    union all
    select 'event_id keys', pg_size_pretty(sum(pg_relation_size(i.indexrelid)))
    from pg_partition_tree('votes') t join pg_index i on i.indrelid = t.relid
    where t.isleaf and i.indisunique
    order by 1`);
  return { table: rows[0]!.table, indexes: rows[0]!.indexes, each };
}
