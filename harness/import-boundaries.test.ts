import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./repo-root.ts";

// The operator tools and benchmarks (scripts/) and the test helpers (test-support/) share
// their process helpers through harness/, never through each other: a bench must not pull
// in test code, and the tests' helpers must not depend on a bench or the chaos suite.
// harness/ is the bottom: it imports neither. Tests in scripts/ use test-support/ as every
// test does.

/** Where each folder must not import from; `tests` says whether its *.test.ts count. */
const RULES: { folder: string; forbidden: string[]; tests: boolean }[] = [
  { folder: "scripts", forbidden: ["test-support"], tests: false },
  { folder: "test-support", forbidden: ["scripts"], tests: true },
  { folder: "harness", forbidden: ["scripts", "test-support"], tests: true },
];

const IMPORT_PATTERNS = [
  // import x from "m", import type { x } from "m", export { x } from "m", export * from "m"
  /\b(?:import|export)\s[^;"']*?\bfrom\s*["']([^"']+)["']/g,
  // import "m" (for its side effects)
  /\bimport\s*["']([^"']+)["']/g,
  // import("m")
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** The module specifiers a source file imports, in order of the patterns. */
function importedSpecifiers(source: string): string[] {
  return IMPORT_PATTERNS.flatMap((pattern) =>
    [...source.matchAll(pattern)].map((match) => match[1]!),
  );
}

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(join(REPO_ROOT, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|js)$/.test(e.name))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)));
}

/** The top-level folder a relative specifier of `file` lands in (undefined for packages). */
function targetFolder(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const target = relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), specifier));
  return target.split(sep)[0];
}

test("the import finder sees every form of import", () => {
  const source = `
import assert from "node:assert";
import {
  a,
  type B,
} from "../elsewhere/a.ts";
import type { C } from "./c.ts";
export { d } from "../d.ts";
export * from "./e.ts";
import "./side-effect.ts";
const lazy = await import("../lazy.ts");
`;
  assert.deepEqual(importedSpecifiers(source), [
    "node:assert",
    "../elsewhere/a.ts",
    "./c.ts",
    "../d.ts",
    "./e.ts",
    "./side-effect.ts",
    "../lazy.ts",
  ]);
});

test("scripts/ and test-support/ do not import each other, and harness/ imports neither", async () => {
  const violations: string[] = [];
  let files = 0;
  for (const rule of RULES)
    for (const file of await sourceFiles(rule.folder)) {
      if (!rule.tests && file.endsWith(".test.ts")) continue;
      files++;
      const source = await readFile(join(REPO_ROOT, file), "utf8");
      for (const specifier of importedSpecifiers(source)) {
        const folder = targetFolder(file, specifier);
        if (folder !== undefined && rule.forbidden.includes(folder))
          violations.push(`${file} imports ${specifier}`);
      }
    }
  assert.ok(files > 50, `only ${files} files read: the folders moved?`);
  assert.deepEqual(violations, []);
});
