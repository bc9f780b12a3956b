import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";
import type { PageProblems } from "./browser.ts";

// An accessibility audit of a page as it stands, by axe-core (WCAG 2 A and AA rules and
// axe's best practices, its defaults).

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Runs axe-core in the page and fails naming each violation (rule, help, elements).
 * axe is evaluated through the DevTools protocol, which the page's CSP does not govern;
 * the <style> elements axe adds are refused by that CSP, and those reports, axe's own,
 * are taken out of `problems` so that a test's "no CSP violation" still means the page's.
 */
export async function assertNoAxeViolations(
  page: Page,
  problems: PageProblems,
  what: string,
): Promise<void> {
  assert.deepEqual(problems.csp(), [], `CSP violations before axe on ${what}`);
  const seen = problems.consoleErrors.length;
  await page.evaluate(`${AXE};0`);
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as AxeViolation[];
  // The console reports of axe's styles arrive a moment after it ran (later on a busy
  // machine): wait until the console has been quiet for a while, then set them aside.
  let count = problems.consoleErrors.length;
  for (const end = Date.now() + 3_000; Date.now() < end; ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (problems.consoleErrors.length === count) break;
    count = problems.consoleErrors.length;
  }
  const during = problems.consoleErrors.splice(seen);
  problems.consoleErrors.push(...during.filter((line) => !/style-src/.test(line)));
  assert.deepEqual(
    violations.map(
      (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
    ),
    [],
    `axe on ${what}`,
  );
}
