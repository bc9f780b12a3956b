import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../common/errors.ts";
import { readWriterConfig } from "./config.ts";

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
