import { countsHidden, pollPhase } from "../common/browser/poll-phase.js";
import type { Pool, PoolClient } from "../common/postgres.ts";
import type { PublishedResults } from "../common/results-contract.ts";
import { formatResultsVersion } from "../common/results-version.ts";

// The publisher's public contract: which version it publishes for a poll, from what it
// reads of Postgres. The publisher decides what to publish with exactly these functions,
// and a checker (`npm run verify`) that asks "has the publisher caught up?" compares
// Redis with publishedVersion() of loadPolls(). Nothing here is a publisher internal:
// change it and the version every client holds (ETag, SSE, Redis) changes meaning.
// The phase and hidden rules themselves live in common/browser/poll-phase.js, shared with
// the pages and the API; the version's format in common/results-version.ts.

/** One poll as the publisher reads it: its registry row and its change marker. */
export interface PollRecord {
  id: string;
  title: string;
  timeZone: string;
  opensAt: Date | null;
  closesAt: Date | null;
  resultsVisibility: "live" | "after_close";
  updatedAt: Date;
  createdAt: Date;
  options: { id: string; label: string }[];
  /** From poll_changes; 0 and null while the poll has no stored votes. */
  changeSeq: number;
  changedAt: Date | null;
}

/** Every poll, one row each (registry and change marker): never `votes`. */
export async function loadPolls(db: Pool | PoolClient): Promise<PollRecord[]> {
  const { rows } = await db.query<{
    id: string;
    title: string;
    time_zone: string;
    opens_at: Date | null;
    closes_at: Date | null;
    results_visibility: "live" | "after_close";
    updated_at: Date;
    created_at: Date;
    options: { id: string; label: string }[] | null;
    change_seq: number | null;
    changed_at: Date | null;
  }>(`
    select p.id, p.title, p.time_zone, p.opens_at, p.closes_at, p.results_visibility,
           p.updated_at, p.created_at, c.change_seq, c.changed_at,
           (select json_agg(json_build_object('id', o.id, 'label', o.label) order by o.position)
            from poll_options o where o.poll_id = p.id) as options
    from polls p left join poll_changes c on c.poll_id = p.id`);
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    timeZone: r.time_zone,
    opensAt: r.opens_at,
    closesAt: r.closes_at,
    resultsVisibility: r.results_visibility,
    updatedAt: r.updated_at,
    createdAt: r.created_at,
    options: r.options ?? [],
    changeSeq: r.change_seq ?? 0,
    changedAt: r.changed_at,
  }));
}

/** Whether counts may be shown now (after_close polls hide them until they close). */
export function isHidden(poll: PollRecord, nowMs: number): boolean {
  return countsHidden(
    { resultsVisibility: poll.resultsVisibility, closesAtMs: poll.closesAt?.getTime() ?? null },
    nowMs,
  );
}

/** The poll's phase by the clock: not open yet, open, or closed. */
export function resultsStatus(poll: PollRecord, nowMs: number): PublishedResults["status"] {
  return pollPhase(
    { opensAtMs: poll.opensAt?.getTime() ?? null, closesAtMs: poll.closesAt?.getTime() ?? null },
    nowMs,
  );
}

/**
 * A version derived from everything a publication depends on: the poll's change marker
 * (new votes), its registry row (title, options, window), whether it is hidden, and its
 * status (a poll opens and closes by the clock, with no vote or edit to mark it). The
 * same inputs give the same version, so a restarted publisher does not republish. The
 * format is the API's contract too (common/results-version.ts).
 */
export function resultsVersion(poll: PollRecord, hidden: boolean, nowMs = Date.now()): string {
  return formatResultsVersion({
    changeSeq: poll.changeSeq,
    registryMs: poll.updatedAt.getTime(),
    phase: resultsStatus(poll, nowMs),
    hidden,
  });
}

/** The version the publisher publishes for this poll at `nowMs`. */
export function publishedVersion(poll: PollRecord, nowMs = Date.now()): string {
  return resultsVersion(poll, isHidden(poll, nowMs), nowMs);
}
