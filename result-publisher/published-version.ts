import { countsHidden, pollPhase } from "../common/browser/poll-phase.js";
import type { Pool, PoolClient } from "../common/postgres.ts";
import type { PublishedResults } from "../common/results-contract.ts";

// The publisher's public contract: which version it publishes for a poll, from what it
// reads of Postgres. The publisher decides what to publish with exactly these functions,
// and a checker (`npm run verify`) that asks "has the publisher caught up?" compares
// Redis with publishedVersion() of loadPolls(). Nothing here is a publisher internal:
// change it and the version every client holds (ETag, SSE, Redis) changes meaning.
// The phase and hidden rules themselves live in common/browser/poll-phase.js, shared with
// the pages and the API.

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
 * same inputs give the same version, so a restarted publisher does not republish.
 *
 * A hidden poll's version leaves the change marker out: it is public (ETag, SSE, Redis),
 * and a version that moved with each stored batch would show how busy the poll is.
 */
export function resultsVersion(poll: PollRecord, hidden: boolean, nowMs = Date.now()): string {
  const phase = { not_open: "-n", open: "", closed: "-c" }[resultsStatus(poll, nowMs)];
  const registry = poll.updatedAt.getTime().toString(36);
  return hidden ? `h-${registry}${phase}` : `${poll.changeSeq}-${registry}${phase}`;
}

/** The version the publisher publishes for this poll at `nowMs`. */
export function publishedVersion(poll: PollRecord, nowMs = Date.now()): string {
  return resultsVersion(poll, isHidden(poll, nowMs), nowMs);
}

/**
 * Whether `version` was published for an earlier poll under the same id (deleted, then
 * created again): its registry time (the poll row's updated_at, never before the row's
 * created_at) is before this poll was created. Until the publisher's next run removes or
 * replaces them, Redis still holds that poll's results; a reader that knows the poll's
 * creation time (the API's registry cache) must not serve them as this poll's.
 */
export function publishedForEarlierPoll(version: string, createdAtMs: number): boolean {
  const registry = version.split("-")[1];
  const registryMs = registry === undefined ? Number.NaN : Number.parseInt(registry, 36);
  return Number.isFinite(registryMs) && registryMs < createdAtMs;
}
