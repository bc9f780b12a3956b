// The width of a rollup bucket (vote_rollups, the published distribution): the one home of
// it in JavaScript, for the services and the pages alike. SQL has its own one home,
// rollup_bucket_width() (migration 014); common/rollup-buckets.test.ts checks that the two
// agree and that the width is written nowhere else. A plain ES module with no dependencies
// (types in bucket-width.d.ts).

/** Milliseconds in a rollup bucket. */
export const BUCKET_MS = 600_000;
/** The same width in minutes (the published distribution's `bucketMinutes`). */
export const BUCKET_MINUTES = BUCKET_MS / 60_000;
