import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EARLIER, LATEST, NO_RUN_YET, nestHeadings, recordRun } from "./benchmarks-md.ts";

// How `npm run bench` records a run in BENCHMARKS.md: the report replaces the section's
// latest run, the one it replaces is kept first among the earlier runs, other sections
// are left as they were.

const md = [
  "# Benchmarks",
  "",
  "## Ingest (`npm run bench:ingest`)",
  "",
  "What it does.",
  "",
  LATEST,
  "",
  NO_RUN_YET,
  "",
  EARLIER,
  "",
  "#### An old run",
  "",
  "old numbers",
  "",
  "## Batch writer (`npm run bench:writer`)",
  "",
  "Writer text.",
  "",
].join("\n");

describe("recordRun", () => {
  test("the first run replaces the placeholder; nothing moves to the earlier runs", () => {
    const out = recordRun(md, "bench:ingest", "# Report\n\nratio 0.8", "2026-12-07");
    assert.match(
      out,
      /### Latest run\n\n#### Report\n\nratio 0\.8\n\n### Earlier runs\n\n#### An old run/,
    );
    assert.doesNotMatch(out, /Superseded/);
    assert.ok(!out.includes(NO_RUN_YET));
    assert.ok(out.includes("## Batch writer (`npm run bench:writer`)\n\nWriter text.\n"));
  });

  test("the next run moves the previous one first among the earlier runs", () => {
    const once = recordRun(md, "bench:ingest", "first run", "2026-12-07");
    const twice = recordRun(once, "bench:ingest", "second run", "2026-12-08");
    const section = twice.slice(0, twice.indexOf("## Batch writer"));
    assert.match(section, /### Latest run\n\nsecond run\n/);
    assert.match(
      section,
      /### Earlier runs\n\n#### Superseded on 2026-12-08\n\nfirst run\n\n#### An old run/,
    );
  });

  test("a section without a slot gets one before its subsections; a missing section is added", () => {
    const out = recordRun(md, "bench:writer", "writer report", "2026-12-07");
    assert.match(out, /Writer text\.\n\n### Latest run\n\nwriter report\n$/);
    const added = recordRun(md, "bench:reads", "reads report", "2026-12-07");
    assert.match(
      added,
      /## bench:reads \(`npm run bench:reads`\)\n\n### Latest run\n\nreads report\n$/,
    );
  });
});

describe("nestHeadings", () => {
  test("pushes the shallowest heading to the level given, never up, at most 6", () => {
    assert.equal(nestHeadings("# A\n\n## B\ntext", 4), "#### A\n\n##### B\ntext");
    assert.equal(nestHeadings("##### A", 4), "##### A");
    assert.equal(nestHeadings("# A\n#### B", 4), "#### A\n###### B");
    assert.equal(
      nestHeadings("```\n# not a heading\n```\n# A", 4),
      "```\n# not a heading\n```\n#### A",
    );
  });
});
