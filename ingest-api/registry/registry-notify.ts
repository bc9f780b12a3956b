import type { Pool, PoolClient } from "../../common/postgres.ts";

// The registry's change notifications (migration 052's functions, which hold the channels
// and payloads the listeners parse): every statement that writes schools, polls,
// poll_options, kiosks or people is followed by one of these in its transaction, so that
// the other API processes (registry-cache.ts, known-people.ts) and the publisher
// (result-publisher/registry-watch.ts) hear of it at the commit. No trigger does it: Citus
// refuses triggers on the reference tables these are (docs/citus.md). A write made without
// them is seen only at the listeners' safety-net reloads.

/** A registry table whose rows the tallyflow_registry payloads name. */
export type RegistryTable = "schools" | "polls" | "poll_options" | "kiosks";

type Db = Pool | PoolClient;

/**
 * `<table>:<key>` for each key (a poll_options change names its poll). Run it in the
 * transaction that wrote the rows (on a Pool: after the write's commit).
 */
export async function notifyRegistryRows(
  db: Db,
  table: RegistryTable,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await db.query("select notify_registry_rows($1, $2::text[])", [table, keys]);
}

/** After inserting polls: each one's row, and a school's first lesson register. */
export async function notifyPollsCreated(db: Db, pollIds: readonly string[]): Promise<void> {
  if (pollIds.length === 0) return;
  await db.query("select notify_polls_created($1::text[])", [pollIds]);
}

/** The schools whose people a statement inserted, updated or deleted (none: nothing sent). */
export async function notifyPeopleChanged(db: Db, schoolIds: readonly string[]): Promise<void> {
  if (schoolIds.length === 0) return;
  await db.query("select notify_people_schools($1::text[])", [schoolIds]);
}
