import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { loadPeriodPage, periodPageQuery } from "./attendance-reads-store.ts";

// The week page's plan at a school's real size (10,000 people, today's row for each): the
// page's days must be one probe of the person index per person of the page. Left to
// itself the planner pulls the lateral up into a join with every row of the school's days
// (the whole roster's today: 66 ms where the probes take ~1 ms, BENCHMARKS.md
// "Attendance end to end"); the statement's `offset 0` is what stops it, and this test is
// what notices if a rewrite loses it.

const PEOPLE = 10_000;
const SCHOOL = "plan";
const WEEK = { from: "2026-05-04", to: "2026-05-08" } as const;
let db: TestDatabase;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Alias?: string;
  "Index Name"?: string;
  "Index Cond"?: string;
  "Actual Loops"?: number;
  "Actual Rows"?: number;
  Plans?: PlanNode[];
}

function nodes(n: PlanNode): PlanNode[] {
  return [n, ...(n.Plans ?? []).flatMap(nodes)];
}

const q = (text: string, values: unknown[] = []) => db.pool.query(text, values);

before(async () => {
  db = await createTestDatabase(testNames().database);
  await q("select time_partitions_ensure('attendance_days', p_now => '2026-05-06')");
  // The month's statistics are what a morning has: none yet for today's rows. Autovacuum
  // would analyze the partition a minute after the inserts; the first test is the morning
  // before it did.
  await q("alter table attendance_days_p2026_05 set (autovacuum_enabled = false)");
  await q("insert into schools (id, name) values ($1, 'Plan school')", [SCHOOL]);
  await q(
    `insert into people (school_id, id, name, groups)
     select $1, 'P' || lpad(i::text, 5, '0'), 'Pupil ' || i, array['G' || (i % 40)]
     from generate_series(1, $2::int) i`,
    [SCHOOL, PEOPLE],
  );
  await q("analyze people");
});

/** Today's (Wednesday's) check-ins of people `from` to `to`, still in. */
async function checkIns(from: number, to: number): Promise<void> {
  await q(
    `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in, open_since, events)
     select $1, 'P' || lpad(i::text, 5, '0'), '2026-05-06', 0, '2026-05-06 08:00Z', '2026-05-06 08:00Z', 1
     from generate_series($2::int, $3::int) i`,
    [SCHOOL, from, to],
  );
}

after(async () => {
  await db?.drop();
});

/** The page's plan, first page and a later one: each day scan that ran is a probe per person. */
async function assertProbesPerPerson(): Promise<void> {
  for (const after of [undefined, "P05000"]) {
    const { text, values } = periodPageQuery(SCHOOL, { after, group: undefined, limit: 100 }, WEEK);
    const { rows } = await db.pool.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(
      `explain (analyze, format json) ${text}`,
      values,
    );
    const all = nodes(rows[0]!["QUERY PLAN"][0].Plan);
    // The scans that ran (a month's partition pruned at run time shows loops 0).
    const dayScans = all.filter(
      (n) => n["Relation Name"]?.startsWith("attendance_days") && (n["Actual Loops"] ?? 0) > 0,
    );
    assert.ok(dayScans.length > 0, "the page reads attendance_days");
    for (const scan of dayScans) {
      assert.match(
        scan["Node Type"],
        /^Index (Only )?Scan$/,
        `${scan["Relation Name"]}: ${scan["Node Type"]}`,
      );
      // Probed by the page's person (the lateral by p.id; the presence columns' look at a
      // day's other row by the row's own person): no probe reads more than a person's days.
      assert.match(
        scan["Index Cond"] ?? "",
        /person_id = (p\.id|d\.person_id)\b/,
        `${scan["Relation Name"]} ${scan.Alias}: ${scan["Index Cond"]}, ${scan["Actual Rows"]} rows`,
      );
      assert.ok((scan["Actual Rows"] ?? 0) <= 5, `rows per probe: ${scan["Actual Rows"]}`);
    }
    assert.equal(
      all.filter((n) => /^(Merge|Hash) Join$/.test(n["Node Type"])).length,
      0,
      "no join of the page with the school's days",
    );
  }
}

test("the morning: 1,800 check-ins of 10,000 not yet analyzed, the page still probes per person", async () => {
  // The case that made the planner merge-join the page with the whole today (BENCHMARKS.md):
  // without the lateral's `offset 0` this fails.
  await checkIns(1, 1_800);
  await assertProbesPerPerson();
});

test("the whole week stored and analyzed: still a probe per person", async () => {
  await checkIns(1_801, PEOPLE);
  await q(
    `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in, last_out, events)
     select $1, 'P' || lpad(i::text, 5, '0'), d::date, 28800, d + interval '8 hours',
            d + interval '16 hours', 2
     from generate_series(1, $2::int) i,
          generate_series('2026-05-04'::timestamptz, '2026-05-05', interval '1 day') d`,
    [SCHOOL, PEOPLE],
  );
  await q("analyze attendance_days");
  await assertProbesPerPerson();
});

test("the page's answer: 100 people in id order, each with the three days stored", async () => {
  const page = await loadPeriodPage(
    db.pool,
    SCHOOL,
    { after: "P00100", group: undefined, limit: 100 },
    WEEK,
  );
  assert.equal(page.people.length, 100);
  assert.equal(page.people[0]!.id, "P00101");
  assert.equal(page.people.at(-1)!.id, "P00200");
  assert.equal(page.presence.length, 300);
  const today = page.presence.filter((d) => d.day === "2026-05-06");
  assert.equal(today.length, 100);
  assert.ok(today.every((d) => d.openSinceMs !== null && d.closedSeconds === 0));
});
