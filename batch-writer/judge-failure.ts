import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "../common/postgres.ts";
import { classifyFailure, type FailureKind } from "./pg-errors.ts";

// How long `select 1` may take to prove Postgres answers before a failure is held against
// the batch rather than against the database.
const PROBE_TIMEOUT_MS = 5_000;

/**
 * The kind of a failed batch (pg-errors.ts). A failure that looks permanent while Postgres
 * does not even answer `select 1` is an outage in a form pg-errors.ts does not know (a new
 * driver message, a proxy's reset): it is treated as transient, so an unavailable database
 * never dead-letters a vote.
 */
export async function judgeFailure(
  err: unknown,
  pool: Pool,
  signal: AbortSignal,
): Promise<FailureKind> {
  const kind = classifyFailure(err);
  if (kind !== "permanent") return kind;
  return (await databaseAnswers(pool, signal)) ? "permanent" : "transient";
}

async function databaseAnswers(pool: Pool, shutdown: AbortSignal): Promise<boolean> {
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, shutdown]);
  const probe = pool.query("select 1").then(
    () => true,
    () => false,
  );
  const timedOut = sleep(PROBE_TIMEOUT_MS, false, { signal }).catch(() => false);
  try {
    return await Promise.race([probe, timedOut]);
  } finally {
    done.abort();
  }
}
