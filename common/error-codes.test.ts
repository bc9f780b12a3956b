import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  ERROR_TABLE_PATH,
  errorCodesTable,
  TABLE_BEGIN,
  TABLE_END,
} from "../scripts/error-codes-table.ts";
import { ERROR_CODES } from "./error-codes.ts";

// The API reference's error table (docs/api.md) is the table in error-codes.ts, row for
// row: a code added to the API without a line in the reference (or the other way round)
// fails here.

test("docs/api.md's error table lists exactly the codes of common/error-codes.ts", async () => {
  const doc = await readFile(ERROR_TABLE_PATH, "utf8");
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  assert.ok(
    begin >= 0 && end > begin,
    `docs/api.md needs the markers ${TABLE_BEGIN} … ${TABLE_END}`,
  );
  const table = doc.slice(begin + TABLE_BEGIN.length, end).trim();
  assert.equal(
    table,
    errorCodesTable(),
    "docs/api.md's error table differs: run `node scripts/error-codes-table.ts`",
  );
});

test("every code is snake_case and every status is an HTTP error status", () => {
  for (const [code, { status, meaning }] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z]+(_[a-z]+)*$/);
    assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
    assert.ok(meaning.length > 0);
  }
});
