import type { FaultResult } from "./suite.ts";

// The suite's report: one Markdown row per fault, then what went wrong, fault by fault.

function seconds(s: number | undefined): string {
  return s === undefined ? "never" : `${s.toFixed(1)} s`;
}

export function resultsTable(results: FaultResult[]): string {
  const lines = [
    "| fault | accepted | stored | lost | double-counted | extra | 503 s | time to heal (202 / results) | verdict |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of results)
    lines.push(
      `| ${r.fault} | ${r.accepted} | ${r.stored} | ${r.lost} | ${r.doubleCounted} | ${r.extra} | ${r.unavailableSeconds} | ${seconds(r.heal202S)} / ${seconds(r.healResultsS)} | ${r.ok ? "PASS" : "FAIL"} |`,
    );
  const notes = results.map(
    (r) =>
      `- **${r.fault}** (${r.description}): ${r.note}` +
      r.problems.map((p) => `\n  - ${p}`).join(""),
  );
  return `${lines.join("\n")}\n${notes.length > 0 ? `\n${notes.join("\n")}\n` : ""}`;
}
