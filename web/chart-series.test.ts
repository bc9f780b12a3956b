import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { chartSeries, MAX_CHART_BARS, MAX_CHART_SERIES } from "./assets/chart-series.js";

describe("the dashboard's distribution chart data", () => {
  test("a small poll is drawn as published", () => {
    const distribution = {
      bucketMinutes: 10,
      buckets: 3,
      series: [
        { optionId: "a", counts: [1, 0, 2] },
        { optionId: "b", counts: [0, 1, 0] },
      ],
    };
    const got = chartSeries(distribution, [
      { id: "a", count: 3 },
      { id: "b", count: 1 },
    ]);
    assert.equal(got.minutesPerBar, 10);
    assert.equal(got.bars, 3);
    assert.deepEqual(got.series, [
      { optionId: "a", others: 0, counts: [1, 0, 2] },
      { optionId: "b", others: 0, counts: [0, 1, 0] },
    ]);
  });

  test("100 options over 288 buckets: the leading options and Other, in wider bars, same sums", () => {
    const buckets = 288;
    const series = Array.from({ length: 100 }, (_, k) => ({
      optionId: `o${k}`,
      counts: Array.from({ length: buckets }, (_, i) => ((i + k) % 7 === 0 ? k : 0)),
    }));
    const options = series.map((s) => ({
      id: s.optionId,
      count: s.counts.reduce((a, b) => a + b),
    }));
    const got = chartSeries({ bucketMinutes: 10, buckets, series }, options);
    assert.ok(got.bars <= MAX_CHART_BARS);
    assert.equal(got.minutesPerBar, 20);
    assert.equal(got.series.length, MAX_CHART_SERIES);
    // The leading options are the ones with the most votes (o99, o98, …), in option order.
    assert.deepEqual(
      got.series.slice(0, -1).map((s) => s.optionId),
      Array.from({ length: MAX_CHART_SERIES - 1 }, (_, i) => `o${100 - MAX_CHART_SERIES + 1 + i}`),
    );
    assert.equal(got.series.at(-1)?.optionId, null);
    assert.equal(got.series.at(-1)?.others, 100 - (MAX_CHART_SERIES - 1));
    const total = (list: { counts: number[] }[]) =>
      list.reduce((a, s) => a + s.counts.reduce((x, y) => x + y, 0), 0);
    assert.equal(total(got.series), total(series), "every vote is in a bar");
    // Per bar: the sum of its two buckets over every option.
    for (let bar = 0; bar < got.bars; bar++) {
      const want = series.reduce(
        (a, s) => a + (s.counts[2 * bar] ?? 0) + (s.counts[2 * bar + 1] ?? 0),
        0,
      );
      assert.equal(
        got.series.reduce((a, s) => a + s.counts[bar]!, 0),
        want,
        `bar ${bar}`,
      );
    }
  });
});
