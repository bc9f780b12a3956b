import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "../common/errors.ts";
import { readPublisherConfig } from "./config.ts";
import { isRecurringCron } from "./cron.ts";

function failsNaming(env: Record<string, string>, variable: string, message?: RegExp): void {
  assert.throws(
    () => readPublisherConfig(env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.variable, variable);
      assert.ok(err.message.startsWith(`${variable}: `), err.message);
      if (message) assert.match(err.message, message);
      return true;
    },
    `${JSON.stringify(env)} should fail naming ${variable}`,
  );
}

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
