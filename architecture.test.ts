import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";

// The rooms of ARCHITECTURE.md, held against the code: which production file may import
// which. Tests and the tools (scripts/, test-support/, harness/) may import anything.

const ROOT = import.meta.dirname;

/** Each room, and the rooms its production files may import from besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  "kiosk-client": [],
  "ingest-api": ["common"],
  "batch-writer": ["common"],
  "result-publisher": ["common"],
  // The pages: the shared contracts and the outbox library, served by the API as they are.
  web: ["common/browser", "kiosk-client"],
};

function productionFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...productionFiles(path));
    else if (/\.(ts|js)$/.test(entry.name) && !/\.(test|d)\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

const SPECIFIER =
  /(?:^|\s)(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm;

/** The repository files a file imports (packages and the vendored browser bundles left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: string[] = [];
  for (const match of text.matchAll(SPECIFIER)) {
    const spec = match[1] ?? match[2] ?? "";
    // The pages import by URL: /common/browser/… and /kiosk-client/… are those folders.
    if (spec.startsWith("/") && !spec.startsWith("/vendor/")) out.push(spec.slice(1));
    else if (spec.startsWith(".")) out.push(relative(ROOT, resolve(ROOT, dirname(file), spec)));
  }
  return out;
}

function roomOf(file: string): string {
  return file.split("/")[0] ?? file;
}

const files = Object.keys(ALLOWED).flatMap(productionFiles);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe("the rooms' imports", () => {
  test("a service imports only itself and common/; nothing imports the pages", () => {
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const room = roomOf(file);
      for (const target of imports) {
        const ok =
          roomOf(target) === room ||
          (ALLOWED[room] ?? []).some((r) => target === r || target.startsWith(`${r}/`));
        if (!ok) wrong.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("no circle of imports among production files", () => {
    const circles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(circles, []);
  });

  test("the check sees imports (it would pass on an empty graph)", () => {
    assert.ok(graph.size > 100, `only ${graph.size} production files read`);
    assert.ok(
      graph.get("ingest-api/app.ts")?.includes("ingest-api/results/results-json-route.ts"),
      "app.ts's imports were not read",
    );
    assert.ok(
      graph.get("web/assets/format.js")?.includes("common/browser/poll-phase.js"),
      "a page's URL import was not read",
    );
  });
});

// The map must be true: a path named in the docs that no longer exists sends a newcomer to
// the wrong file. Every `folder/file` in backticks that starts with one of the rooms counts.
const ROOMS =
  /^(?:ingest-api|batch-writer|result-publisher|kiosk-client|common|web|sql|scripts|test-support|harness|docs|observability)\//;
const DOCS = [
  "ARCHITECTURE.md",
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

test("every repository path the docs name exists", () => {
  const missing: string[] = [];
  for (const doc of DOCS) {
    const text = readFileSync(join(ROOT, doc), "utf8");
    for (const [, quoted] of text.matchAll(/`([^`\s]+)`/g)) {
      const path = (quoted ?? "").replace(/[:#].*$/, "").replace(/\/$/, "");
      if (!ROOMS.test(`${path}/`) || path.includes("*") || path.includes("<")) continue;
      if (!existsSync(join(ROOT, path))) missing.push(`${doc}: ${quoted}`);
    }
  }
  assert.deepEqual(missing, []);
});

// Every setting a service reads is in the configuration table: a limit nobody can find is
// not configurable in practice.
const CONFIG_FILES = [
  "common/config.ts",
  "common/nats.ts",
  "ingest-api/config.ts",
  "ingest-api/http/http-config.ts",
  "ingest-api/http/body-limits.ts",
  "batch-writer/config.ts",
  "result-publisher/config.ts",
];

test("every environment variable the services read is in docs/configuration.md", () => {
  const table = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");
  const read = new Set<string>();
  for (const file of CONFIG_FILES) {
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const [, name] of text.matchAll(/\(\s*(?:env,\s*)?"([A-Z][A-Z0-9_]{3,})"/g))
      read.add(name ?? "");
  }
  assert.ok(read.size > 50, `only ${read.size} variables found: the check reads nothing`);
  const missing = [...read].filter((name) => !table.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});
