import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ERROR_CODES } from "./error-codes.ts";

// The README's error table is the table in error-codes.ts, row for row: a code added to
// the API without a line in the README (or the other way round) fails here.

const README = join(import.meta.dirname, "..", "README.md");
const BEGIN =
  "<!-- error-codes:begin (common/error-codes.ts; checked by common/error-codes.test.ts) -->";
const END = "<!-- error-codes:end -->";

function expectedTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning} |`,
  );
  return ["| code | status | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

test("the README's error table lists exactly the codes of common/error-codes.ts", async () => {
  const readme = await readFile(README, "utf8");
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  assert.ok(begin >= 0 && end > begin, `README.md needs the markers ${BEGIN} … ${END}`);
  const table = readme.slice(begin + BEGIN.length, end).trim();
  assert.equal(table, expectedTable(), `README.md's error table should read:\n${expectedTable()}`);
});

test("every code is snake_case and every status is an HTTP error status", () => {
  for (const [code, { status, meaning }] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z]+(_[a-z]+)*$/);
    assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
    assert.ok(meaning.length > 0);
  }
});
