// The results version's format: the string every client holds as the ETag, the SSE event
// id and the `version` field in Redis. The publisher writes it, the API reads it, so it is
// a contract between them and lives here rather than inside either service.
//
//   `<changeSeq>-<registry>[-n|-c]`  a visible poll
//   `h-<registry>[-n|-c]`            a hidden poll (no change marker: see formatResultsVersion)
//
// `<registry>` is the poll row's updated_at in base 36; `-n` not open yet, `-c` closed.

import type { PollPhase } from "./browser/poll-phase.js";

const PHASE_SUFFIX: Record<PollPhase, string> = { not_open: "-n", open: "", closed: "-c" };

/** What a version is made of: every input that changes what a publication shows. */
export interface ResultsVersionParts {
  /** The poll's change marker (moves with stored votes). */
  changeSeq: number;
  /** The poll row's updated_at (title, options, window). */
  registryMs: number;
  phase: PollPhase;
  hidden: boolean;
}

/**
 * A hidden poll's version leaves the change marker out: it is public (ETag, SSE, Redis),
 * and a version that moved with each stored batch would show how busy the poll is.
 */
export function formatResultsVersion({
  changeSeq,
  registryMs,
  phase,
  hidden,
}: ResultsVersionParts): string {
  const registry = registryMs.toString(36);
  return `${hidden ? "h" : changeSeq}-${registry}${PHASE_SUFFIX[phase]}`;
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
