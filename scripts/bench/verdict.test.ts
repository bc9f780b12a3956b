import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  parseVerdicts,
  ratioVerdict,
  valueVerdict,
  verdictLines,
  verdictText,
  within,
} from "./verdict.ts";

// The one way benchmarks state a verdict: unrounded ratios, judged unrounded, and the
// closing block that `npm run bench` reads back.

describe("verdicts", () => {
  test("a ratio just under its bound is printed unrounded and missed", () => {
    const v = ratioVerdict("results GET, API / Redis reference req/s", 0.79812, "≥", 0.8);
    assert.equal(verdictText(v), "ratio 0.7981 (target ≥ 0.8): MISSED");
    assert.equal(v.met, false);
    assert.equal(verdictText(ratioVerdict("x", 0.8, "≥", 0.8)), "ratio 0.8000 (target ≥ 0.8): met");
  });

  test("a value is shown with its unit on both sides; NaN is never within a bound", () => {
    const ms = (n: number) => `${n.toLocaleString("en-US")} ms`;
    assert.equal(
      verdictText(valueVerdict("p95", 6_001, "≤", 6_000, ms)),
      "6,001 ms (target ≤ 6,000 ms): MISSED",
    );
    assert.equal(valueVerdict("p95", 5_999, "≤", 6_000, ms).met, true);
    for (const bound of ["≥", ">", "≤", "<"] as const)
      assert.equal(within(Number.NaN, bound, 1), false, bound);
    assert.equal(within(1, "<", 1), false);
    assert.equal(within(1, ">", 1), false);
  });

  test("parseVerdicts reads back the last block of a report, nothing after it", () => {
    const report = [
      "| table | x |",
      "",
      ...verdictLines([
        ratioVerdict("a", 0.5, "≥", 0.9),
        valueVerdict("b", 3, "<", 25, (n) => `${n} ms`),
      ]),
      "",
      "- a later list that is not a verdict",
    ].join("\n");
    assert.deepEqual(parseVerdicts(report), [
      "a: ratio 0.5000 (target ≥ 0.9): MISSED",
      "b: 3 ms (target < 25 ms): met",
    ]);
    assert.deepEqual(parseVerdicts("no verdicts here"), []);
  });
});
