import assert from "node:assert/strict";
import type { VisibleResults } from "../common/results-contract.ts";
import { BUCKET_MS } from "../common/rollup-buckets.ts";
import type { IngestHarness } from "./ingest.ts";

// Published results checked against a direct count over `votes`.

export { BUCKET_MS };

/** `select option_id, count(*) … group by`, as a map. */
export async function sqlTotals(h: IngestHarness, pollId: string): Promise<Map<string, number>> {
  const { rows } = await h.db.pool.query<{ option_id: string; n: number }>(
    "select option_id, count(*) as n from votes where poll_id = $1 group by option_id",
    [pollId],
  );
  return new Map(rows.map((r) => [r.option_id, r.n]));
}

/** Per-option, per-10-minute-bucket counts straight from `votes`: `option/bucketMs` → n. */
export async function sqlBuckets(h: IngestHarness, pollId: string): Promise<Map<string, number>> {
  const { rows } = await h.db.pool.query<{ option_id: string; bucket: Date; n: number }>(
    `select option_id,
            rollup_bucket_start(cast_at) as bucket,
            count(*) as n
     from votes where poll_id = $1 group by 1, 2`,
    [pollId],
  );
  return new Map(rows.map((r) => [`${r.option_id}/${r.bucket.getTime()}`, r.n]));
}

/** The same `option/bucketMs` → n map, read from a published distribution (zeros left out). */
export function publishedBuckets(results: VisibleResults): Map<string, number> {
  const start = Date.parse(results.distribution.start ?? "");
  const map = new Map<string, number>();
  for (const s of results.distribution.series)
    s.counts.forEach((n, i) => {
      if (n !== 0) map.set(`${s.optionId}/${start + i * BUCKET_MS}`, n);
    });
  return map;
}

/** poll_changes.changed_at of a poll: what `asOf` must say. */
export async function changedAt(h: IngestHarness, pollId: string): Promise<Date> {
  const { rows } = await h.db.pool.query<{ changed_at: Date }>(
    "select changed_at from poll_changes where poll_id = $1",
    [pollId],
  );
  assert.ok(rows[0], `no poll_changes row for ${pollId}`);
  return rows[0].changed_at;
}

/**
 * Asserts a published document equals a direct count over `votes`: totals per option (in
 * option order), shares, and the zero-filled distribution from the first vote's bucket to
 * the bucket of asOf = poll_changes.changed_at.
 */
export async function assertMatchesSql(
  h: IngestHarness,
  results: VisibleResults,
  optionOrder: string[],
): Promise<void> {
  const pollId = results.pollId;
  const totals = await sqlTotals(h, pollId);
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  assert.equal(results.totalVotes, total, "totalVotes");
  assert.deepEqual(
    results.options.map((o) => [o.id, o.count]),
    optionOrder.map((id) => [id, totals.get(id) ?? 0]),
    "per-option counts",
  );
  for (const o of results.options)
    assert.equal(o.share, total === 0 ? 0 : o.count / total, `share of ${o.id}`);

  const buckets = await sqlBuckets(h, pollId);
  const asOf = await changedAt(h, pollId);
  assert.equal(results.asOf, asOf.toISOString(), "asOf = poll_changes.changed_at");
  const bucketTimes = [...buckets.keys()].map((k) => Number(k.split("/")[1]));
  const first = Math.min(...bucketTimes);
  const last = Math.max(Math.floor(asOf.getTime() / BUCKET_MS) * BUCKET_MS, ...bucketTimes);
  assert.equal(results.distribution.bucketMinutes, 10);
  assert.equal(results.distribution.start, new Date(first).toISOString(), "distribution.start");
  assert.equal(results.distribution.buckets, (last - first) / BUCKET_MS + 1, "bucket count");
  assert.deepEqual(
    results.distribution.series.map((s) => s.optionId),
    optionOrder,
    "one series per option, in option order",
  );
  for (const s of results.distribution.series)
    assert.equal(s.counts.length, results.distribution.buckets, `length of ${s.optionId}'s series`);
  assert.deepEqual(publishedBuckets(results), buckets, "10-minute buckets equal the SQL count");
}
