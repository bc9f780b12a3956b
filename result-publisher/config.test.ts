import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertFailsNaming } from "../test-support/config-errors.ts";
import { readPublisherConfig } from "./config.ts";
import { isRecurringCron } from "./cron.ts";

/** Reading this env fails with a ConfigError naming `variable`. */
const failsNaming = (env: Record<string, string>, variable: string, message?: RegExp) =>
  assertFailsNaming(readPublisherConfig, env, variable, message);

describe("readPublisherConfig: RESULTS_CRON", () => {
  test("without it, the schedule follows RESULTS_INTERVAL_MS", () => {
    assert.equal(readPublisherConfig({}).schedule, "*/5 * * * * *");
    assert.equal(readPublisherConfig({ RESULTS_INTERVAL_MS: "120000" }).schedule, "0 */2 * * * *");
  });

  test("valid rules of 6 fields (with seconds) and of 5 are taken as given", () => {
    for (const cron of ["*/2 * * * * *", "0 0 0 1 1 *", "15 */10 8-18 * * 1-5", "*/5 * * * *"])
      assert.equal(readPublisherConfig({ RESULTS_CRON: cron }).schedule, cron);
  });

  test("a 6-field rule node-schedule cannot run is refused, naming the variable", () => {
    // Each has 6 fields and passed the old field-count check; node-schedule would have run
    // none of them more than once.
    for (const cron of [
      "61 * * * * *", // second out of range (node-schedule reads it as a date)
      "*/5 * * * * 8", // day of week out of range
      "0 0 0 30 2 *", // 30 February never comes
      "a b c d e f",
      "1 2 3 4 5 2099", // a date, not a rule
    ])
      failsNaming({ RESULTS_CRON: cron }, "RESULTS_CRON", /node-schedule/);
  });

  test("a rule of the wrong number of fields is refused", () => {
    failsNaming({ RESULTS_CRON: "* * * * * * *" }, "RESULTS_CRON", /5 or 6 fields/);
    failsNaming({ RESULTS_CRON: "*/5" }, "RESULTS_CRON", /5 or 6 fields/);
  });

  test("isRecurringCron: a rule is one, a string node-schedule takes for a date is not", () => {
    // The check schedules a Job and cancels it: a timer left behind would keep this file's
    // process from exiting.
    assert.equal(isRecurringCron("*/1 * * * * *"), true);
    assert.equal(isRecurringCron("61 * * * * *"), false);
  });

  test("the publisher refuses to start on a bad RESULTS_CRON, exiting 2 and naming it", () => {
    const main = join(import.meta.dirname, "main.ts");
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", RESULTS_CRON: "61 * * * * *" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^configuration error: RESULTS_CRON: .*"61 \* \* \* \* \*"$/m);
  });
});

describe("readPublisherConfig: charts and the distribution window", () => {
  test("defaults: charts on demand, one worker thread, 20 s a render, a 48-hour window", () => {
    const c = readPublisherConfig({});
    assert.equal(c.chartRender, "demand");
    assert.equal(c.chartWorkers, 1);
    assert.equal(c.chartRenderTimeoutMs, 20_000);
    assert.equal(c.chartDemandTtlMs, 60_000);
    assert.equal(c.distributionWindowHours, 48);
  });

  test("a bad value fails at start naming its variable", () => {
    failsNaming({ CHART_RENDER: "sometimes" }, "CHART_RENDER", /demand, all/);
    failsNaming({ CHART_WORKERS: "-1" }, "CHART_WORKERS", /at least 0/);
    failsNaming({ CHART_WORKERS: "two" }, "CHART_WORKERS", /integer/);
    failsNaming({ CHART_DEMAND_TTL_MS: "10" }, "CHART_DEMAND_TTL_MS", /at least 1000/);
    failsNaming({ CHART_RENDER_TIMEOUT_MS: "500" }, "CHART_RENDER_TIMEOUT_MS", /at least 1000/);
    failsNaming({ DISTRIBUTION_WINDOW_HOURS: "0" }, "DISTRIBUTION_WINDOW_HOURS", /at least 1/);
    failsNaming({ DISTRIBUTION_WINDOW_HOURS: "10000" }, "DISTRIBUTION_WINDOW_HOURS", /at most 744/);
  });
});

describe("readPublisherConfig: lesson registers' documents", () => {
  test("defaults: 7 days kept, 10,000 documents a run (a national morning's pace), 10 minutes' grace", () => {
    const r = readPublisherConfig({}).registers;
    assert.equal(r.daysKept, 7);
    assert.equal(r.maxDocumentsPerRun, 10_000);
    assert.equal(r.completionGraceMs, 600_000);
    assert.equal(r.overdueRecountMs, 60_000);
    assert.equal(
      readPublisherConfig({ REGISTER_MAX_DOCUMENTS_PER_RUN: "500" }).registers.maxDocumentsPerRun,
      500,
    );
  });

  test("a bad value fails at start naming its variable", () => {
    failsNaming(
      { REGISTER_MAX_DOCUMENTS_PER_RUN: "0" },
      "REGISTER_MAX_DOCUMENTS_PER_RUN",
      /at least 1/,
    );
    failsNaming(
      { REGISTER_MAX_DOCUMENTS_PER_RUN: "2000000" },
      "REGISTER_MAX_DOCUMENTS_PER_RUN",
      /at most 1000000/,
    );
    failsNaming({ REGISTER_OVERDUE_RECOUNT_MS: "-1" }, "REGISTER_OVERDUE_RECOUNT_MS", /at least 0/);
  });
});
