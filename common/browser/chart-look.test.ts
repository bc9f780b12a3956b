import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  barLabels,
  chartSeries,
  distributionLook,
  MAX_CHART_BARS,
  MAX_CHART_SERIES,
  OPTION_COLORS,
  OTHER_COLOR,
  optionColor,
  seriesLook,
  spanText,
  totalsLook,
  valueLabel,
} from "./chart-look.js";

describe("the distribution chart data", () => {
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

describe("the chart look", () => {
  test("an option's colour is its place in the poll's options; Other has its own", () => {
    assert.equal(optionColor(0), "#0072B2");
    assert.equal(optionColor(1), "#E69F00");
    assert.equal(new Set(OPTION_COLORS).size, OPTION_COLORS.length, "no colour twice");
    assert.ok(!OPTION_COLORS.includes(OTHER_COLOR));
    // As many colours as options drawn one by one; more options repeat them.
    assert.equal(OPTION_COLORS.length, MAX_CHART_SERIES - 1);
    assert.equal(optionColor(OPTION_COLORS.length), optionColor(0));
    assert.notEqual(optionColor(0, true), optionColor(0), "lighter on a dark screen");
    assert.equal(optionColor(OPTION_COLORS.length, true), optionColor(0, true));
  });

  test("a series is drawn in its option's colour with its label; Other says how many", () => {
    const options = [
      { id: "a", label: "Apple" },
      { id: "b", label: "Banana" },
    ];
    assert.deepEqual(seriesLook({ optionId: "b", others: 0 }, options), {
      label: "Banana",
      color: optionColor(1),
    });
    assert.deepEqual(seriesLook({ optionId: null, others: 3 }, options), {
      label: "Other (3 options)",
      color: OTHER_COLOR,
    });
  });

  test("labels: values, bar spans and bar times", () => {
    assert.equal(valueLabel(1234, 0.5625), "1,234 · 56.3%");
    assert.equal(valueLabel(0, 0), "0 · 0.0%");
    assert.equal(spanText(10), "10 minutes");
    assert.equal(spanText(70), "70 minutes");
    assert.equal(spanText(120), "2 h");
    const day = { start: "2026-03-29T09:00:00.000Z", buckets: 3, bucketMinutes: 10 };
    assert.deepEqual(barLabels(day, { minutesPerBar: 10, bars: 3 }, "Europe/London"), [
      "10:00",
      "10:10",
      "10:20",
    ]);
    // Over more than a day, each time says its date.
    const twoDays = { ...day, buckets: 288 };
    assert.deepEqual(barLabels(twoDays, { minutesPerBar: 20, bars: 2 }, "UTC"), [
      "29 Mar, 09:00",
      "29 Mar, 09:20",
    ]);
    assert.throws(() => barLabels(day, { minutesPerBar: 10, bars: 1 }, "Mars/Olympus"), RangeError);
  });

  test("the totals and the distribution as both charts draw them", () => {
    const options = Array.from({ length: 12 }, (_, i) => ({
      id: `o${i}`,
      label: `Option ${i}`,
      count: i,
      share: i / 66,
    }));
    const totals = totalsLook(options);
    assert.deepEqual(totals[3], { label: "Option 3", color: optionColor(3), value: "3 · 4.5%" });
    assert.equal(totals.length, 12);
    const look = distributionLook(
      {
        start: "2026-03-29T09:00:00.000Z",
        bucketMinutes: 10,
        buckets: 2,
        series: options.map((o) => ({ optionId: o.id, counts: [o.count, 1] })),
      },
      options,
      "UTC",
    );
    assert.deepEqual(look.labels, ["09:00", "09:10"]);
    assert.equal(look.others, 3);
    assert.deepEqual(look.datasets[0], {
      label: "Option 3",
      color: optionColor(3),
      counts: [3, 1],
    });
    assert.deepEqual(look.datasets.at(-1), {
      label: "Other (3 options)",
      color: OTHER_COLOR,
      counts: [0 + 1 + 2, 3],
    });
  });
});
