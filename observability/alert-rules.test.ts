import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";

// The alert rules, held by Prometheus's own tools: `promtool check rules` (they load) and
// `promtool test rules` (each fires on the series it is about and stays quiet on the
// others). Every alert must have a test where it fires and one where it must not, a
// summary, and a runbook paragraph in docs/observability.md under its own name.
// promtool comes with Debian's prometheus package (.ci/run installs it).

const RULES_DIR = join(import.meta.dirname, "prometheus", "rules");
const RULES = join(RULES_DIR, "tallyflow-alerts.yml");
const TESTS = join(RULES_DIR, "tallyflow-alerts.test.yml");
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const missing = promtool.error ? "promtool is not installed (apt-get install prometheus)" : "";

interface Rule {
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
}
interface AlertTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const groups = (parse(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups;
const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
const names = [...new Set(alerts.map((r) => r.alert!))];

function promtoolRun(args: string[]): { status: number | null; output: string } {
  const run = spawnSync("promtool", args, { encoding: "utf8", cwd: RULES_DIR });
  assert.equal(run.error, undefined);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe("alert rules", { skip: missing || false }, () => {
  test("promtool check config: the compose kit's prometheus.yml is valid", () => {
    const config = join(import.meta.dirname, "prometheus", "prometheus.yml");
    const run = promtoolRun(["check", "config", config]);
    assert.equal(run.status, 0, run.output);
  });

  test("promtool check rules: they load", () => {
    const run = promtoolRun(["check", "rules", RULES]);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /SUCCESS: \d+ rules found/);
  });

  test("promtool test rules: each fires when it should and not otherwise", () => {
    const run = promtoolRun(["test", "rules", TESTS]);
    assert.equal(run.status, 0, run.output);
  });

  test("every alert is tested firing and not firing", () => {
    const tests = (parse(readFileSync(TESTS, "utf8")) as { tests: AlertTest[] }).tests;
    const checks = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of names) {
      const mine = checks.filter((c) => c.alertname === name);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${name} has a test where it fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${name} has a test where it must not fire`,
      );
    }
  });

  test("every alert has a summary and a runbook paragraph in docs/observability.md", () => {
    const docs = readFileSync(join(import.meta.dirname, "..", "docs", "observability.md"), "utf8");
    const headings = new Set(
      [...docs.matchAll(/^#{2,4} (\S+)\s*$/gm)].map((m) => m[1]!.toLowerCase()),
    );
    for (const rule of alerts) {
      const name = rule.alert!;
      assert.ok(rule.annotations?.summary, `${name} has a summary`);
      assert.equal(
        rule.annotations?.runbook_url,
        `docs/observability.md#${name.toLowerCase()}`,
        `${name} links its runbook`,
      );
      assert.ok(headings.has(name.toLowerCase()), `docs/observability.md has a ${name} section`);
    }
  });
});
