import type { Pool } from "../common/postgres.ts";

/** Sessions holding an advisory lock in the pool's database: their pids and names. */
export async function advisoryLockHolders(
  pool: Pool,
): Promise<{ pid: number; application_name: string }[]> {
  const { rows } = await pool.query<{ pid: number; application_name: string }>(
    `select a.pid, a.application_name from pg_locks l join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted
       and l.database = (select oid from pg_database where datname = current_database())`,
  );
  return rows;
}
