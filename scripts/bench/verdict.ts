// How every benchmark states a verdict: the metric the target names, its value from this
// run, the target, and "met" or "MISSED". A ratio is printed with four decimals and judged
// unrounded, so that 0.798 is never shown as a met 0.80. A report ends with the list of its
// verdicts (verdictLines), which `npm run bench` collects from each report (parseVerdicts).

export type Bound = "≥" | ">" | "≤" | "<";

export interface Verdict {
  /** The metric the target names, e.g. "single votes, API / reference req/s (medians)". */
  what: string;
  /** The value this run measured, as printed: "ratio 0.7981", "5,097 ms". */
  measured: string;
  /** The bound as printed: "≥ 0.9", "≤ 6,000 ms". */
  target: string;
  met: boolean;
}

/** Whether `value` is within `bound limit`; NaN (nothing measured) never is. */
export function within(value: number, bound: Bound, limit: number): boolean {
  if (Number.isNaN(value)) return false;
  switch (bound) {
    case "≥":
      return value >= limit;
    case ">":
      return value > limit;
    case "≤":
      return value <= limit;
    case "<":
      return value < limit;
  }
}

export const ratioText = (ratio: number): string => `ratio ${ratio.toFixed(4)}`;

/** A ratio against a bound: "ratio 0.7981 (target ≥ 0.8): MISSED". */
export function ratioVerdict(what: string, ratio: number, bound: Bound, limit: number): Verdict {
  return {
    what,
    measured: ratioText(ratio),
    target: `${bound} ${limit}`,
    met: within(ratio, bound, limit),
  };
}

/** A value against a bound, both printed by `show` (which adds the unit). */
export function valueVerdict(
  what: string,
  value: number,
  bound: Bound,
  limit: number,
  show: (n: number) => string,
): Verdict {
  return {
    what,
    measured: show(value),
    target: `${bound} ${show(limit)}`,
    met: within(value, bound, limit),
  };
}

export const verdictWord = (met: boolean): string => (met ? "met" : "MISSED");

/** "ratio 0.7981 (target ≥ 0.8): MISSED" */
export function verdictText(v: Verdict): string {
  return `${v.measured} (target ${v.target}): ${verdictWord(v.met)}`;
}

const HEADING = "Verdicts (each on the metric its target names, from this run's figures):";

/** The closing block of a report: one line per verdict. */
export function verdictLines(verdicts: readonly Verdict[]): string[] {
  return [HEADING, "", ...verdicts.map((v) => `- ${v.what}: ${verdictText(v)}`)];
}

/** The verdict lines (without their "- ") of the last verdict block in a report. */
export function parseVerdicts(report: string): string[] {
  const at = report.lastIndexOf(HEADING);
  if (at === -1) return [];
  const lines = report.slice(at + HEADING.length).split("\n");
  const found: string[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith("- ")) found.push(line.slice(2));
    else if (found.length > 0 || line.trim() !== "") break;
  }
  return found;
}
