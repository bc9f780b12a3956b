import { BUCKET_MS } from "../common/rollup-buckets.ts";
import { visibleResults } from "../result-publisher/results.ts";

/** The sample polls' start: a Monday, 08:00 UTC. */
export const CHART_T0 = Date.UTC(2026, 0, 5, 8, 0);

/**
 * A small live poll's results as the publisher stores them (two options, two buckets, a
 * 400 × 300 chart): what the chart renderer's tests queue a chart for.
 */
export function sampleResults(id: string, title: string) {
  return visibleResults(
    {
      id,
      title,
      timeZone: "UTC",
      opensAt: null,
      closesAt: null,
      resultsVisibility: "live",
      updatedAt: new Date(CHART_T0),
      createdAt: new Date(CHART_T0),
      options: [
        { id: "a", label: "A" },
        { id: "b", label: "B" },
      ],
      changeSeq: 1,
      changedAt: new Date(CHART_T0 + 1_000),
    },
    [
      { optionId: "a", bucketStartMs: CHART_T0, count: 3 },
      { optionId: "b", bucketStartMs: CHART_T0 + BUCKET_MS, count: 1 },
    ],
    CHART_T0 + BUCKET_MS * 2,
    { width: 400, height: 300 },
    24,
  );
}
