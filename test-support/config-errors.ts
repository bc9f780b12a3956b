import assert from "node:assert/strict";
import { ConfigError } from "../common/errors.ts";

/**
 * Asserts that reading `env` with a service's config reader fails with a ConfigError that
 * names `variable` (and starts its message with it), matching `message` when given.
 */
export function assertFailsNaming(
  readConfig: (env: Record<string, string>) => unknown,
  env: Record<string, string>,
  variable: string,
  message?: RegExp,
): void {
  assert.throws(
    () => readConfig(env),
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
