import { setTimeout as sleep } from "node:timers/promises";
import { attendanceCursorKey } from "../../common/attendance-contract.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";

// When the attendance publisher has published everything committed before a moment: its
// cursor in Redis (attendance-publisher.ts keeps there the snapshot every change before which
// is published, written after the run's documents) sees every transaction a snapshot taken
// at that moment saw. What a check of the published documents against the events waits for
// after the writer drained: a check made before it compares a document the publisher is
// still to rewrite (a loaded publisher's runs lag by tens of seconds), and a pass over many
// schools made once and never again (each school's day computed from the raw events takes
// seconds) reports the first schools from their earliest look.

interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  xip: bigint[];
}

/** `xmin:xmax:xip,…` as pg_snapshot prints it. */
export function parseSnapshot(text: string): Snapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (match === null) throw new Error(`not a pg_snapshot: ${JSON.stringify(text)}`);
  return {
    xmin: BigInt(match[1]!),
    xmax: BigInt(match[2]!),
    xip: match[3] === "" ? [] : match[3]!.split(",").map((x) => BigInt(x)),
  };
}

/**
 * Whether every transaction `earlier` sees as done is seen as done by `later` (as
 * pg_visible_in_snapshot judges: below xmin, or below xmax and not in progress). Exact for
 * the snapshots' own lists; a transaction that aborted counts as any other.
 */
export function snapshotCovers(later: string, earlier: string): boolean {
  const l = parseSnapshot(later);
  const e = parseSnapshot(earlier);
  // Seen by earlier and at or past later's xmax: later did not see it begin.
  if (e.xmax > l.xmax) {
    const inProgressThen = e.xip.filter((x) => x >= l.xmax).length;
    if (e.xmax - l.xmax > BigInt(inProgressThen)) return false;
  }
  // In progress for later, but done for earlier.
  const inProgressThen = new Set(e.xip);
  return l.xip.every((x) => x >= e.xmax || (x >= e.xmin && inProgressThen.has(x)));
}

/** The current snapshot (`xmin:xmax:xip…`) of the database: what is committed now. */
export async function snapshotNow(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ snapshot: string }>(
    "select pg_current_snapshot()::text as snapshot",
  );
  return rows[0]!.snapshot;
}

/**
 * Waits until the attendance publisher's cursor (under `prefix`) covers `snapshot`: every
 * document then shows every change committed before it. Resolves to the milliseconds waited,
 * or undefined when `timeoutMs` passed first.
 */
export async function waitForAttendancePublisher(
  redis: RedisClient,
  prefix: string,
  snapshot: string,
  timeoutMs: number,
  pollMs = 500,
): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    const cursor = await redis.get(attendanceCursorKey(prefix));
    if (cursor !== null && snapshotCovers(cursor, snapshot)) return performance.now() - started;
    if (performance.now() - started >= timeoutMs) return undefined;
    await sleep(pollMs);
  }
}
