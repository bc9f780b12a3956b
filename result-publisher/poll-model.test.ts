import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BUCKET_MS } from "../common/rollup-buckets.ts";
import { PollModel } from "./poll-model.ts";
import type { PollRecord } from "./published-version.ts";
import { visibleResults } from "./results.ts";
import type { RollupRow } from "./rollup-store.ts";

// The publisher's model of a poll keeps the totals and the distribution window only; what
// it publishes must be what every row would give, through the window moving on and a vote
// back-dated before it.

const WINDOW_HOURS = 1;
const T0 = Date.UTC(2026, 0, 5, 8, 0);
const at = (bucket: number) => T0 + bucket * BUCKET_MS;
const row = (optionId: string, bucket: number, count: number): RollupRow => ({
  optionId,
  bucketStartMs: at(bucket),
  count,
});
const poll = (lastBucket: number): PollRecord => ({
  id: "p",
  title: "P",
  timeZone: "UTC",
  opensAt: null,
  closesAt: null,
  resultsVisibility: "live",
  updatedAt: new Date(T0),
  createdAt: new Date(T0),
  options: [
    { id: "a", label: "A" },
    { id: "b", label: "B" },
  ],
  changeSeq: lastBucket + 1,
  changedAt: new Date(at(lastBucket) + 1_000),
});

describe("PollModel", () => {
  test("publishes what every row gives, while it forgets the rows before the window", () => {
    const all = new Map<string, RollupRow>();
    const model = new PollModel(T0);
    const runs: [RollupRow[], number][] = [
      [[row("a", 0, 3), row("b", 0, 1)], 0],
      [[row("a", 5, 2), row("b", 9, 4)], 9],
      [[row("a", 9, 5), row("b", 20, 1)], 20], // b's bucket 9 again (absolute count)
      [[row("a", 30, 1), row("b", 9, 6)], 30],
    ];
    for (const [delta, last] of runs) {
      for (const r of delta) all.set(`${r.optionId}/${r.bucketStartMs}`, r);
      const applied = model.apply(delta);
      if (!applied) {
        // Back-dated before the window: the publisher reads the poll in full again.
        assert.equal(last, 30);
        const fresh = new PollModel(T0);
        assert.ok(fresh.apply([...all.values()]));
        fresh.trim(poll(last).changedAt, WINDOW_HOURS);
        assert.deepEqual(
          visibleResults(poll(last), fresh, 0, null, WINDOW_HOURS),
          visibleResults(poll(last), [...all.values()], 0, null, WINDOW_HOURS),
        );
        continue;
      }
      model.trim(poll(last).changedAt, WINDOW_HOURS);
      assert.deepEqual(
        visibleResults(poll(last), model, 0, null, WINDOW_HOURS),
        visibleResults(poll(last), [...all.values()], 0, null, WINDOW_HOURS),
      );
    }
    assert.ok([...model.recent].length < all.size, "rows before the window are forgotten");
  });
});
