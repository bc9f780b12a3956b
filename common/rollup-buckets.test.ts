import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO_ROOT as ROOT } from "../harness/repo-root.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { BUCKET_MINUTES, BUCKET_MS, bucketStartMs, bucketStartSql } from "./rollup-buckets.ts";

// The rollup bucket width has one home in JavaScript (common/browser/bucket-width.js) and
// one in SQL (rollup_bucket_width(), migration 014). These tests check that the two agree,
// and that no other production file writes the width again.

/** The homes of the width; migrations before the SQL one are applied history. */
const JS_HOME = "common/browser/bucket-width.js";
const SQL_HOME = "sql/migrations/014_rollup_bucket_functions.sql";
const SQL_HOME_VERSION = 14;
/** A line saying this is not written on purpose (a report's delay classes). */
const NOT_THE_WIDTH = "not the bucket width";

const MINUTE_MS = 60_000;
/** The width in the units a name can give it (`bucketMinutes`, `BUCKET_MS`). */
const WIDTH_IN: Record<string, number> = {
  ms: BUCKET_MS,
  _s: BUCKET_MS / 1_000,
  sec: BUCKET_MS / 1_000,
  secs: BUCKET_MS / 1_000,
  seconds: BUCKET_MS / 1_000,
  minute: BUCKET_MINUTES,
  minutes: BUCKET_MINUTES,
};

/** A quoted interval of the width: '10 minutes', '600 s', '00:10:00', 'PT10M'. */
function quotedIntervals(): RegExp[] {
  const min = BUCKET_MINUTES;
  const s = BUCKET_MS / 1_000;
  const clock = `0?${Math.floor(min / 60)}:${String(min % 60).padStart(2, "0")}(?::00)?`;
  return [
    new RegExp(
      `(['"\`])\\s*(?:${min}\\s*(?:min|mins|minutes?)|${s}\\s*(?:s|secs?|seconds?)|${clock}|pt${min}m|pt${s}s)\\s*\\1`,
      "i",
    ),
    new RegExp(`'(?:${min}'\\s*minute|${s}'\\s*second)`, "i"),
    new RegExp(`make_interval\\s*\\([^)]*\\b(?:mins\\s*=>\\s*${min}|secs\\s*=>\\s*${s})\\b`, "i"),
  ];
}

/** The code of a line: without a trailing // or -- comment, empty for a comment line. */
function codeOf(line: string, sql: boolean): string {
  const trimmed = line.trim();
  if (/^(\/\/|\/\*|\*|--)/.test(trimmed)) return "";
  const comment = sql ? line.indexOf("--") : line.search(/(^|[^:])\/\//);
  return comment === -1 ? line : line.slice(0, comment);
}

/** The value of an integer literal or a product of them ("10 * 60_000"). */
function productValue(product: string): number {
  return product
    .split("*")
    .map((f) => Number(f.trim().replaceAll("_", "")))
    .reduce((a, b) => a * b, 1);
}

const PRODUCT = String.raw`\d[\d_]*(?:\s*\*\s*\d[\d_]*)*`;
/** A number of the width in ms divided or taken modulo by: binning (`t / 600_000`). */
const BINNING = new RegExp(String.raw`[/%][\s(]*(${PRODUCT})(?![\w.])`, "g");
/** A name about buckets with a unit, given a number (`bucketMinutes: 10`, `BUCKET_MS = …`). */
const NAMED = new RegExp(
  String.raw`bucket\w*?(ms|_s|secs?|seconds|minutes?)\b["']?\s*[:=]\s*(${PRODUCT})(?![\w.])`,
  "gi",
);
/** Any number, to find the width in ms on a line about buckets (`buckets * 600_000`). */
const ANY_NUMBER = new RegExp(String.raw`(?<![\w.])${PRODUCT}(?![\w.])`, "g");

/**
 * Where a text writes the bucket width: a quoted interval of it (SQL, or SQL in strings);
 * its number of ms divided or taken modulo by; a name about buckets given it in the name's
 * unit; its number of ms on a line about buckets (not a histogram's `buckets: [...]`).
 */
function widthLiterals(text: string, sql: boolean): { line: number; text: string }[] {
  const intervals = quotedIntervals();
  const hits: { line: number; text: string }[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.includes(NOT_THE_WIDTH)) return;
    const code = codeOf(line, sql);
    const aboutBuckets = /bucket/i.test(code) && !/buckets\s*:\s*\[/.test(code);
    const hit =
      intervals.some((r) => r.test(code)) ||
      [...code.matchAll(BINNING)].some((m) => productValue(m[1]!) === BUCKET_MS) ||
      [...code.matchAll(NAMED)].some(
        (m) => productValue(m[2]!) === WIDTH_IN[m[1]!.toLowerCase()],
      ) ||
      (aboutBuckets &&
        [...code.matchAll(ANY_NUMBER)].some((m) => productValue(m[0]) === BUCKET_MS));
    if (hit) hits.push({ line: i + 1, text: line.trim() });
  });
  return hits;
}

/** Production source: JS, TS and SQL outside tests, test support and applied migrations. */
async function productionFiles(dir = ROOT): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = relative(ROOT, path);
    if (entry.isDirectory()) {
      if (/^\./.test(entry.name) || ["node_modules", "artifacts", "test-support"].includes(rel))
        continue;
      files.push(...(await productionFiles(path)));
    } else if (/\.(ts|js|mjs|cjs|sql)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
      const migration = /^sql\/migrations\/(\d{3})_/.exec(rel);
      if (migration && Number(migration[1]) < SQL_HOME_VERSION) continue;
      if (rel === JS_HOME || rel === SQL_HOME) continue;
      files.push(rel);
    }
  }
  return files;
}

describe("the rollup bucket width", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(() => db?.drop());

  test("SQL's rollup_bucket_width() and rollup_bucket_start() agree with JavaScript's", async () => {
    const width = await db.pool.query<{ ms: string }>(
      "select (extract(epoch from rollup_bucket_width()) * 1000)::bigint::text as ms",
    );
    assert.equal(Number(width.rows[0]!.ms), BUCKET_MS);
    assert.equal(BUCKET_MINUTES * MINUTE_MS, BUCKET_MS);
    // Around a boundary, before 2000 (date_bin's origin) and before 1970 (negative ms).
    const instants = [
      Date.parse("2026-03-29T09:00:00.000Z"),
      Date.parse("2026-03-29T09:00:00.000Z") - 1,
      Date.parse("2026-03-29T09:07:31.250Z"),
      Date.parse("1999-12-31T23:55:00.001Z"),
      Date.parse("1969-07-20T20:17:40.000Z"),
    ];
    const { rows } = await db.pool.query<{ ms: string }>(
      `select (extract(epoch from ${bucketStartSql("t")}) * 1000)::bigint::text as ms
       from unnest($1::timestamptz[]) with ordinality as u(t, n) order by n`,
      [instants.map((ms) => new Date(ms).toISOString())],
    );
    assert.deepEqual(
      rows.map((r) => Number(r.ms)),
      instants.map(bucketStartMs),
    );
    // Functions of older migrations that wrote the width were replaced to call it.
    const writers = await db.pool.query<{ proname: string }>(
      `select proname from pg_proc
       where pronamespace = 'public'::regnamespace and proname <> 'rollup_bucket_width'
         and prosrc ~* $1 order by proname`,
      [`'\\s*${BUCKET_MINUTES}\\s*min`],
    );
    assert.deepEqual(
      writers.rows.map((r) => r.proname),
      [],
    );
  });

  test("the scan finds the width however it is written, and not other durations", () => {
    const hits = (text: string, sql = false) => widthLiterals(text, sql).length;
    for (const sql of [
      "select date_bin('10 minutes', cast_at, timestamptz '2000-01-01 00:00:00+00')",
      "and r.bucket_start > lo - interval '10 min'",
      "generate_series(a, b, interval '600 seconds')",
      "select x + '00:10:00'::interval",
      "select interval '10' minute",
      "select make_interval(mins => 10)",
    ])
      assert.equal(hits(sql, true), 1, sql);
    for (const js of [
      "const BUCKET_MS = 600_000;",
      "const bucketWidth = 10 * 60 * 1000;",
      "const b = Math.floor(t / 600000) * 600000;",
      "const b = t - (t % (10 * 60_000));",
      "distribution: { bucketMinutes: 10, start }",
      "const start = now - buckets * 600_000;",
      "const BUCKET_S = 600;",
      "windowBucketMinutes = 10",
      "pool.query(\"select date_bin('10 minutes', cast_at, $1)\")",
    ])
      assert.equal(hits(js), 1, js);
    for (const other of [
      'duplicateWindowMs: readInt(env, "DUPLICATE_WINDOW_MS", 600_000, { min: 600_000 }),',
      "const TABLE_BUCKETS = 36;",
      "// a month of 10-minute buckets would be unreadable",
      "const id = 1_714_563_600_000;",
      "when delay < interval '10 minutes' then 5 -- a delay class, not the bucket width",
      "maxRetryAfterMs: 600_000,",
      "const buckets = 600;",
      "buckets: [1, 10, 100, 1_000, 600_000],",
    ])
      assert.equal(hits(other, other.includes("interval")), 0, other);
  });

  test("no production file writes the width but its two homes", async () => {
    const found: string[] = [];
    for (const file of await productionFiles()) {
      const text = await readFile(join(ROOT, file), "utf8");
      for (const hit of widthLiterals(text, file.endsWith(".sql")))
        found.push(`${file}:${hit.line}: ${hit.text}`);
    }
    assert.deepEqual(found, [], `read BUCKET_MS (${JS_HOME}) or rollup_bucket_width()`);
  });
});
