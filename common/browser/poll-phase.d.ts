// Types of poll-phase.js, the plain ES module the pages load as it is.

export type PollPhase = "not_open" | "open" | "closed";

export function pollPhase(
  poll: { opensAtMs: number | null; closesAtMs: number | null },
  nowMs: number,
): PollPhase;

export function countsHidden(
  poll: { resultsVisibility: "live" | "after_close"; closesAtMs: number | null },
  nowMs: number,
): boolean;

export function instantMs(iso: string | null | undefined): number | null;
