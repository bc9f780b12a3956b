import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";

// BENCHMARKS.md as `npm run bench` keeps it: each bench has a section whose heading names
// its command ("## Ingest (`npm run bench:ingest`)"), with what the script does, then
// "### Latest run" holding the report of the last recorded run as the script printed it,
// then "### Earlier runs". Recording a run puts its report under "### Latest run" and
// moves the one it replaces to the top of "### Earlier runs".

const BENCHMARKS_MD = join(REPO_ROOT, "BENCHMARKS.md");
export const LATEST = "### Latest run";
export const EARLIER = "### Earlier runs";
/** What "### Latest run" holds until a run is recorded: not moved to the earlier runs. */
export const NO_RUN_YET = "_No run recorded with the current script yet._";

const HEADING = /^(#{1,6}) /;

/**
 * Pushes the headings of `text` down so that the shallowest is at `top` (never up, at
 * most 6), so that a report nests under the heading it is recorded beneath.
 */
export function nestHeadings(text: string, top: number): string {
  const lines = text.split("\n");
  let fenced = false;
  const levels: number[] = [];
  for (const line of lines) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = fenced ? null : HEADING.exec(line);
    if (m) levels.push(m[1]!.length);
  }
  if (levels.length === 0) return text;
  const shift = Math.max(0, top - Math.min(...levels));
  fenced = false;
  return lines
    .map((line) => {
      if (line.startsWith("```")) fenced = !fenced;
      const m = fenced ? null : HEADING.exec(line);
      if (!m) return line;
      return `${"#".repeat(Math.min(6, m[1]!.length + shift))}${line.slice(m[1]!.length)}`;
    })
    .join("\n");
}

const isSectionHeading = (line: string) => line.startsWith("## ");
const commandOf = (script: string) => `(\`npm run ${script}\`)`;

/** The index of the first line at or after `from` (before `to`) that `test` accepts, or `to`. */
function findLine(lines: string[], from: number, to: number, test: (l: string) => boolean) {
  for (let i = from; i < to; i++) if (test(lines[i]!)) return i;
  return to;
}

/**
 * `md` with `report` recorded as the latest run of `script` ("bench:ingest", or "bench"
 * for the whole pipeline); the run it replaces is kept under "### Earlier runs", headed
 * "#### Superseded on `when`". A section the file lacks is added at its end.
 */
export function recordRun(md: string, script: string, report: string, when: string): string {
  const lines = md.trimEnd().split("\n");
  const body = nestHeadings(report.trim(), 4).split("\n");
  const start = lines.findIndex((l) => isSectionHeading(l) && l.includes(commandOf(script)));
  if (start === -1)
    return [...lines, "", `## ${script} ${commandOf(script)}`, "", LATEST, "", ...body, ""].join(
      "\n",
    );
  const end = findLine(lines, start + 1, lines.length, isSectionHeading);
  let latest = findLine(lines, start + 1, end, (l) => l === LATEST);
  if (latest === end) {
    // No slot yet: before the section's first subsection, after its description.
    latest = findLine(lines, start + 1, end, (l) => l.startsWith("### "));
    lines.splice(latest, 0, "", LATEST, "");
    latest++;
  }
  const latestEnd = findLine(
    lines,
    latest + 1,
    findLine(lines, latest + 1, lines.length, isSectionHeading),
    (l) => l.startsWith("### "),
  );
  const previous = lines
    .slice(latest + 1, latestEnd)
    .join("\n")
    .trim();
  lines.splice(latest + 1, latestEnd - (latest + 1), "", ...body, "");
  if (previous !== "" && previous !== NO_RUN_YET) {
    const sectionEnd = findLine(lines, start + 1, lines.length, isSectionHeading);
    let earlier = findLine(lines, start + 1, sectionEnd, (l) => l === EARLIER);
    if (earlier === sectionEnd) lines.splice(earlier, 0, "", EARLIER, "");
    earlier = findLine(lines, start + 1, lines.length, (l) => l === EARLIER);
    lines.splice(
      earlier + 1,
      0,
      "",
      `#### Superseded on ${when}`,
      "",
      ...nestHeadings(previous, 5).split("\n"),
    );
  }
  return `${lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trimEnd()}\n`;
}

/** Records each run in BENCHMARKS.md, in order. */
export async function recordRuns(
  runs: readonly { script: string; report: string }[],
  when: string,
): Promise<void> {
  let md = await readFile(BENCHMARKS_MD, "utf8").catch(() => "# Benchmarks\n");
  for (const run of runs) md = recordRun(md, run.script, run.report, when);
  await writeFile(BENCHMARKS_MD, md);
}
