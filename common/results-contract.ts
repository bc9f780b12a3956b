// The Redis contract for published results, shared by the publisher (writes) and the
// read API (reads). Kiosks on the same network may read these keys directly: the layout
// is documented in the README and changes only with a new key version.

export interface ResultsKeys {
  /** JSON document (`PublishedResults`), UTF-8. */
  json: string;
  /** PNG chart of the same version; absent while hidden counts must not leak or a render failed. */
  png: string;
  /** The version string alone: poll this cheaply, fetch JSON/PNG only when it changes. */
  version: string;
}

export function resultsKeys(prefix: string, pollId: string): ResultsKeys {
  const base = `${prefix}results:${pollId}`;
  return { json: `${base}:json`, png: `${base}:png`, version: `${base}:version` };
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
  bucketMinutes: 10;
  /** Start of the first bucket (UTC-aligned); bucket i starts at start + i × 10 min. */
  start: string | null;
  /** Number of buckets, zero-filled, from the first vote's bucket to the asOf bucket. */
  buckets: number;
  /** One series per option, in option order, `buckets` counts each. */
  series: { optionId: string; counts: number[] }[];
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
  /** The PNG chart of this version, or null when rendering failed (retried next run). */
  chart: { width: number; height: number } | null;
}

export interface HiddenResults extends ResultsBase {
  hidden: true;
  resultsVisibility: "after_close";
  message: string;
}

export type PublishedResults = VisibleResults | HiddenResults;
