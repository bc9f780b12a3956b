import { fmtInt, fmtMs, type SimStats } from "./stats.ts";

// Progress while a simulation runs: a bar redrawn with \r on a terminal, one plain line
// every few seconds otherwise (CI logs, pipes). Written to stderr so stdout stays the
// summary (or the JSON).

export interface ProgressSnapshot {
  elapsedMs: number;
  /** 0 = runs until stopped. */
  durationMs: number;
  stats: SimStats;
  /** Requests and votes per second since the previous snapshot. */
  requestRate: number;
  voteRate: number;
  inFlight: number;
  /** Votes cast but waiting in offline kiosks' queues. */
  queued: number;
  draining: boolean;
}

function bar(fraction: number, width: number): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

/** The numbers of a progress report, without the bar. */
export function progressFields(s: ProgressSnapshot): string {
  const st = s.stats;
  return [
    `${fmtInt(s.requestRate)} req/s (${fmtInt(s.voteRate)} votes/s)`,
    `accepted ${fmtInt(st.accepted)}`,
    `dup ${fmtInt(st.duplicates)}`,
    `refused ${fmtInt(st.refused)}`,
    `errors ${fmtInt(st.errors)}`,
    `p50 ${fmtMs(st.recentLatency.percentile(50))} ms`,
    `p99 ${fmtMs(st.recentLatency.percentile(99))} ms`,
    ...(s.queued > 0 ? [`offline queue ${fmtInt(s.queued)}`] : []),
  ].join("  ");
}

/** One line for a terminal (fits `columns`), drawn over the previous one. */
export function renderTtyLine(s: ProgressSnapshot, columns: number): string {
  const seconds = Math.floor(s.elapsedMs / 1000);
  const head = s.draining
    ? "draining"
    : s.durationMs > 0
      ? `${bar(s.elapsedMs / s.durationMs, 20)} ${seconds}/${Math.round(s.durationMs / 1000)}s`
      : `${seconds}s`;
  const line = `${head}  ${progressFields(s)}`;
  const width = Math.max(20, columns - 1);
  return `\r${line.length > width ? line.slice(0, width) : line.padEnd(width)}`;
}

/** One plain line for logs. */
export function renderPlainLine(s: ProgressSnapshot): string {
  const t = `${(s.elapsedMs / 1000).toFixed(0)}s${s.durationMs > 0 ? `/${Math.round(s.durationMs / 1000)}s` : ""}`;
  return `${s.draining ? "draining" : t}  ${progressFields(s)}\n`;
}
