// A poll's phase and whether its counts are hidden: the one home of both rules. The
// publisher, the API and the pages all import this file; it is a plain ES module with no
// dependencies so that browsers load it as it is (types in poll-phase.d.ts). A change
// made here reaches every copy of the answer, so none can leak or hide counts alone.

/**
 * "not_open" before `opensAt`, "closed" from `closesAt` on, "open" otherwise. The window
 * is half-open, as votes are: `[opensAt, closesAt)`.
 * @param {{ opensAtMs: number | null, closesAtMs: number | null }} poll
 * @param {number} nowMs
 * @returns {"not_open" | "open" | "closed"}
 */
export function pollPhase(poll, nowMs) {
  if (poll.opensAtMs !== null && nowMs < poll.opensAtMs) return "not_open";
  if (poll.closesAtMs !== null && nowMs >= poll.closesAtMs) return "closed";
  return "open";
}

/**
 * Whether counts may not be shown now: an `after_close` poll hides them until it closes
 * (for ever, if it has no close time).
 * @param {{ resultsVisibility: "live" | "after_close", closesAtMs: number | null }} poll
 * @param {number} nowMs
 * @returns {boolean}
 */
export function countsHidden(poll, nowMs) {
  return (
    poll.resultsVisibility === "after_close" &&
    (poll.closesAtMs === null || nowMs < poll.closesAtMs)
  );
}

/**
 * Milliseconds since the epoch of an ISO instant, or null.
 * @param {string | null | undefined} iso
 * @returns {number | null}
 */
export function instantMs(iso) {
  return iso ? Date.parse(iso) : null;
}
