import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../common/errors.ts";
import { readWriterConfig } from "./config.ts";
import { registersOutliveEvents } from "./register-retention.ts";

describe("readWriterConfig: PERMANENT_FAILURE_ATTEMPTS", () => {
  test("defaults to 5 and reads a given value", () => {
    assert.equal(readWriterConfig({}).permanentFailureAttempts, 5);
    assert.equal(
      readWriterConfig({ PERMANENT_FAILURE_ATTEMPTS: "12" }).permanentFailureAttempts,
      12,
    );
  });

  test("a bad value fails naming the variable", () => {
    for (const value of ["0", "-1", "2.5", "many", "1001"]) {
      assert.throws(
        () => readWriterConfig({ PERMANENT_FAILURE_ATTEMPTS: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.variable === "PERMANENT_FAILURE_ATTEMPTS" &&
          err.message.startsWith("PERMANENT_FAILURE_ATTEMPTS: "),
        value,
      );
    }
  });
});

describe("readWriterConfig: ATTENDANCE_DIRTY_BATCH", () => {
  test("defaults to 1000 and reads a given value", () => {
    assert.equal(readWriterConfig({}).attendanceDirtyBatch, 1_000);
    assert.equal(readWriterConfig({ ATTENDANCE_DIRTY_BATCH: "50" }).attendanceDirtyBatch, 50);
  });

  test("a bad value fails naming the variable", () => {
    for (const value of ["0", "-3", "1.5", "all", "100001"])
      assert.throws(
        () => readWriterConfig({ ATTENDANCE_DIRTY_BATCH: value }),
        (err: unknown) => err instanceof ConfigError && err.variable === "ATTENDANCE_DIRTY_BATCH",
        value,
      );
  });
});

describe("readWriterConfig: VOTES_RETENTION_DAYS", () => {
  test("unset keeps votes for ever; a given number of days is read", () => {
    assert.equal(readWriterConfig({}).votesRetentionDays, undefined);
    assert.equal(readWriterConfig({ VOTES_RETENTION_DAYS: "400" }).votesRetentionDays, 400);
  });

  test("a bad value fails naming the variable", () => {
    for (const value of ["0", "-3", "1.5", "forever", "36501"]) {
      assert.throws(
        () => readWriterConfig({ VOTES_RETENTION_DAYS: value }),
        (err: unknown) => err instanceof ConfigError && err.variable === "VOTES_RETENTION_DAYS",
        value,
      );
    }
  });
});

describe("readWriterConfig: REGISTER_RETENTION_DAYS", () => {
  test("unset keeps registers for ever, whatever VOTES_RETENTION_DAYS; a number of days is read", () => {
    assert.equal(readWriterConfig({}).registerRetentionDays, undefined);
    assert.equal(
      readWriterConfig({ VOTES_RETENTION_DAYS: "30" }).registerRetentionDays,
      undefined,
      "the votes' retention does not imply the registers'",
    );
    assert.equal(readWriterConfig({ REGISTER_RETENTION_DAYS: "400" }).registerRetentionDays, 400);
    assert.equal(readWriterConfig({}).registerRetentionBatch, 250);
    assert.equal(readWriterConfig({ REGISTER_RETENTION_BATCH: "250" }).registerRetentionBatch, 250);
  });

  test("a bad value fails naming the variable", () => {
    for (const [variable, value] of [
      ["REGISTER_RETENTION_DAYS", "0"],
      ["REGISTER_RETENTION_DAYS", "-3"],
      ["REGISTER_RETENTION_DAYS", "1.5"],
      ["REGISTER_RETENTION_DAYS", "forever"],
      ["REGISTER_RETENTION_DAYS", "36501"],
      ["REGISTER_RETENTION_BATCH", "0"],
      ["REGISTER_RETENTION_BATCH", "501"],
      ["REGISTER_RETENTION_BATCH", "many"],
    ] as const) {
      assert.throws(
        () => readWriterConfig({ [variable]: value }),
        (err: unknown) => err instanceof ConfigError && err.variable === variable,
        `${variable}=${value}`,
      );
    }
  });
});

describe("registersOutliveEvents: said at start, neither refused nor implied", () => {
  const said = (env: Record<string, string>) => registersOutliveEvents(readWriterConfig(env));
  test("registers kept longer than their events (or for ever, events not) are said", () => {
    assert.match(said({ VOTES_RETENTION_DAYS: "30" }) ?? "", /kept for ever.*30 or less/);
    assert.match(
      said({ VOTES_RETENTION_DAYS: "30", REGISTER_RETENTION_DAYS: "60" }) ?? "",
      /kept 60 days but their events 30 days/,
    );
  });
  test("registers going first, or votes kept for ever, say nothing", () => {
    assert.equal(said({}), undefined);
    assert.equal(said({ REGISTER_RETENTION_DAYS: "60" }), undefined);
    assert.equal(said({ VOTES_RETENTION_DAYS: "30", REGISTER_RETENTION_DAYS: "30" }), undefined);
  });
});

describe("readWriterConfig: VOTES_ARCHIVE_DIR", () => {
  test("unset drops without a copy; set with retention, it is read", () => {
    assert.equal(readWriterConfig({ VOTES_RETENTION_DAYS: "400" }).votesArchiveDir, undefined);
    assert.equal(
      readWriterConfig({ VOTES_RETENTION_DAYS: "400", VOTES_ARCHIVE_DIR: "/var/lib/archive" })
        .votesArchiveDir,
      "/var/lib/archive",
    );
  });

  test("without VOTES_RETENTION_DAYS it fails at start, naming the variable", () => {
    assert.throws(
      () => readWriterConfig({ VOTES_ARCHIVE_DIR: "/var/lib/archive" }),
      (err: unknown) => err instanceof ConfigError && err.variable === "VOTES_ARCHIVE_DIR",
    );
  });
});
