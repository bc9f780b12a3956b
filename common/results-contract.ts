// The Redis contract for published results, shared by the publisher (writes) and the
// read API (reads). Kiosks on the same network may read these keys directly: the layout
// is documented in docs/redis-contract.md and changes only with a new key version.

export interface ResultsKeys {
  /** JSON document (`PublishedResults`), UTF-8. */
  json: string;
  /**
   * PNG chart of the same version as the JSON beside it; absent until a renderer drew this
   * version (charts are drawn for polls being read, after the JSON is out) or after a failed
   * render. Never a PNG of another version.
   */
  png: string;
  /** The version string alone: poll this cheaply, fetch JSON/PNG only when it changes. */
  version: string;
}

export function resultsKeys(prefix: string, pollId: string): ResultsKeys {
  const base = `${prefix}results:${pollId}`;
  return { json: `${base}:json`, png: `${base}:png`, version: `${base}:version` };
}

/**
 * Internal (not a contract): sorted set of poll id → last time its chart was read (ms), written
 * by the API at most once per second per poll and process; the publisher renders charts of
 * polls read within CHART_DEMAND_TTL_MS only.
 */
export function chartDemandKey(prefix: string): string {
  return `${prefix}chart-demand`;
}

/**
 * Internal (not a contract): sorted set of poll id → enqueue time (ms): charts to draw. A
 * poll is in it once whatever its number of new versions (a renderer draws the version
 * current when it takes the job); every publisher process, leader or standby, takes jobs.
 */
export function chartJobsKey(prefix: string): string {
  return `${prefix}chart-jobs`;
}

/** Pub/sub channel: one message `{"pollId","version"}` per publication. */
export function resultsChannel(prefix: string): string {
  return `${prefix}results`;
}

export interface OptionTotal {
  id: string;
  label: string;
  count: number;
  /** count / totalVotes, 0 when there are no votes. */
  share: number;
}

export interface Distribution {
  /** The rollup bucket width, BUCKET_MINUTES (common/browser/bucket-width.js). */
  bucketMinutes: number;
  /** Start of the first bucket (UTC-aligned); bucket i starts at start + i × bucketMinutes. */
  start: string | null;
  /**
   * Number of buckets, zero-filled, from the first vote's bucket to the asOf bucket, but
   * never more than the window: `windowHours` × 60 / `bucketMinutes` buckets ending at the
   * asOf bucket.
   */
  buckets: number;
  /** The window the buckets are bounded by (DISTRIBUTION_WINDOW_HOURS). */
  windowHours: number;
  /**
   * One series per option, in option order, `buckets` counts each; `before` counts the
   * option's votes cast before `start` (in the totals, outside the window), 0 when none.
   */
  series: { optionId: string; counts: number[]; before: number }[];
}

interface ResultsBase {
  pollId: string;
  title: string;
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  status: "not_open" | "open" | "closed";
  /** Same value as the ETag and the PNG's version. */
  version: string;
  /** The newest committed vote data this reflects (null: no votes yet). */
  asOf: string | null;
  publishedAt: string;
}

export interface VisibleResults extends ResultsBase {
  hidden: false;
  totalVotes: number;
  options: OptionTotal[];
  distribution: Distribution;
  /** The size of this version's PNG (drawn when the poll's chart is read; see ResultsKeys.png). */
  chart: { width: number; height: number } | null;
}

export interface HiddenResults extends ResultsBase {
  hidden: true;
  resultsVisibility: "after_close";
  message: string;
}

export type PublishedResults = VisibleResults | HiddenResults;
