import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ERROR_CODES } from "../common/error-codes.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { readCli } from "./cli.ts";

// `node scripts/error-codes-table.ts`: rewrites the API reference's error table
// (docs/api.md) from common/error-codes.ts (common/error-codes.test.ts fails until the
// two agree).

export const ERROR_TABLE_PATH = join(REPO_ROOT, "docs", "api.md");
export const TABLE_BEGIN =
  "<!-- error-codes:begin (common/error-codes.ts; checked by common/error-codes.test.ts) -->";
export const TABLE_END = "<!-- error-codes:end -->";

export function errorCodesTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning} |`,
  );
  return ["| code | status | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

if (import.meta.main) {
  readCli(
    {
      usage: "usage: node scripts/error-codes-table.ts   (rewrites docs/api.md's error table)",
      options: {},
    },
    () => undefined,
  );
  const doc = await readFile(ERROR_TABLE_PATH, "utf8");
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`docs/api.md lacks ${TABLE_BEGIN} … ${TABLE_END}`);
  const next = `${doc.slice(0, begin + TABLE_BEGIN.length)}\n${errorCodesTable()}\n${doc.slice(end)}`;
  await writeFile(ERROR_TABLE_PATH, next);
}
