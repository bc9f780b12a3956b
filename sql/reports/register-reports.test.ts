import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { parseCsv, run } from "./test-psql.ts";

// The lesson registers' reports (16-18) on a few lessons written by hand with their numbers:
// absences, one taken back after the completion, a pupil moved out of the group before the
// next lesson, a register never completed. Every report runs through the real psql as an
// analyst.

const ROOT = join(import.meta.dirname, "..", "..");
const PSQL = process.env.PSQL ?? "psql";

let db: TestDatabase;
let analyst: LoginRole;

async function report(file: string, vars: Record<string, string>): Promise<string[][]> {
  const args = ["-X", "-v", "ON_ERROR_STOP=1", "--csv", "--dbname", analyst.url];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  args.push("-f", join(ROOT, "sql", "reports", file));
  const r = await run(PSQL, args);
  assert.equal(r.stderr, "", `${file} wrote to stderr`);
  assert.equal(r.code, 0, `${file} exited ${r.code}`);
  return parseCsv(r.stdout);
}

async function register(
  id: string,
  group: string,
  startsAt: string,
  completion: { at: string; roster: string[] } | null,
  events: [person: string, kind: "absent" | "present", castAt: string][],
): Promise<void> {
  const pool = db.pool;
  const starts = new Date(startsAt);
  await pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ($1, $1, $1, 'elm', 'register', 'roster', array[$2], $3, $4)`,
    [id, group, starts, new Date(starts.getTime() + 45 * 60_000)],
  );
  let seq = Number((await pool.query("select count(*) from votes")).rows[0].count);
  for (const [person, kind, castAt] of events)
    await pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
       values ($1, $2, $3, 'tablet', $4, $5, $5, $6)`,
      [randomUUID(), id, kind, person, castAt, ++seq],
    );
  if (completion)
    await pool.query(
      `insert into register_states (poll_id, school_id, group_id, starts_at, ends_at, completion_id,
                                    completed_at, roster)
       select id, school_id, group_ids[1], starts_at, ends_at, $2, $3, $4 from polls where id = $1`,
      [id, randomUUID(), completion.at, completion.roster],
    );
}

before(async () => {
  db = await createTestDatabase(testNames().database);
  await db.pool.query(
    "insert into schools (id, name, time_zone) values ('elm', 'Elm', 'Europe/London')",
  );
  await register(
    "r1",
    "7A",
    "2026-03-02T09:00:00Z",
    { at: "2026-03-02T09:40:00Z", roster: ["A1", "A2", "A3", "A4"] },
    [
      ["A2", "absent", "2026-03-02T09:05:00Z"],
      ["A3", "absent", "2026-03-02T09:10:00Z"],
      ["A3", "present", "2026-03-02T09:50:00Z"],
    ],
  );
  // A4 moved to another group before this lesson was completed.
  await register(
    "r2",
    "7A",
    "2026-03-03T09:00:00Z",
    { at: "2026-03-03T09:30:00Z", roster: ["A1", "A2", "A3"] },
    [["A1", "absent", "2026-03-03T09:20:00Z"]],
  );
  await register("r3", "7B", "2026-03-03T10:00:00Z", null, [
    ["B1", "absent", "2026-03-03T10:05:00Z"],
  ]);
  await register("r4", "7A", "2026-03-04T09:00:00Z", null, []);
  analyst = await createLoginRole(db, "tallyflow_analyst");
});

after(async () => {
  await analyst?.drop();
  await db?.drop();
});

const range = { school_id: "elm", from: "2026-03-01", to: "2026-03-05" };

describe("lesson register reports", () => {
  test("16 per person: lessons of completed registers, present unless their latest event is an absence", async () => {
    assert.deepEqual(await report("16_register_lessons.sql", range), [
      ["group_id", "person_id", "lessons", "present", "absent", "share_pct"],
      ["7A", "A1", "2", "1", "1", "50.00"],
      ["7A", "A2", "2", "1", "1", "50.00"],
      ["7A", "A3", "2", "2", "0", "100.00"],
      ["7A", "A4", "1", "1", "0", "100.00"],
    ]);
  });

  test("16 per group: lessons held and not completed, person-lessons present and absent", async () => {
    assert.deepEqual(await report("16_register_lessons.sql", { ...range, part: "groups" }), [
      [
        "group_id",
        "lessons_held",
        "lessons_not_completed",
        "person_lessons",
        "present",
        "absent",
        "share_pct",
        "changed_after_completion",
      ],
      ["7A", "2", "1", "7", "5", "2", "71.43", "1"],
      ["7B", "0", "1", "0", "0", "0", "0", "0"],
    ]);
    // The same with the default range (the school's registers' days).
    const all = await report("16_register_lessons.sql", {
      school_id: "elm",
      part: "groups",
      now: "2026-03-05T00:00Z",
    });
    assert.equal(all.length, 3);
  });

  test("17: registers never completed, by end, with the absences known", async () => {
    const rows = await report("17_registers_not_completed.sql", {
      ...range,
      now: "2026-03-05T00:00Z",
    });
    assert.deepEqual(rows[0], [
      "poll_id",
      "group_id",
      "title",
      "starts_at",
      "ends_at",
      "overdue_since",
      "archived",
      "absences",
      "events",
    ]);
    assert.deepEqual(
      rows.slice(1).map((r) => [r[0], r[1], r[5], r[7], r[8]]),
      [
        ["r3", "7B", "2026-03-03 10:55:00+00", "1", "1"],
        ["r4", "7A", "2026-03-04 09:55:00+00", "0", "0"],
      ],
    );
    // Not overdue yet at 10:50 on the 3rd (the grace), nor with a longer one.
    const early = await report("17_registers_not_completed.sql", {
      ...range,
      now: "2026-03-03T10:50Z",
    });
    assert.equal(early.length, 1);
  });

  test("18: events cast after their register's completion", async () => {
    const rows = await report("18_absences_after_completion.sql", range);
    assert.deepEqual(
      rows.map((r) => [r[0], r[2], r[3], r[6]]),
      [
        ["poll_id", "person_id", "kind", "after"],
        ["r1", "A3", "present", "00:10:00"],
      ],
    );
  });
});
