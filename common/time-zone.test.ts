import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { isPortableTimeZone } from "./time-zone.ts";

// The rule's promise, checked against this machine's Postgres: every name it accepts is
// one Postgres knows, and both put the same instants on the same local wall-clock time.

/** Local wall-clock time as Intl reads the zone: `YYYY-MM-DD HH24:MI`. */
function localTime(timeZone: string, at: Date): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

describe("isPortableTimeZone", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(() => db?.drop());

  test("refuses offsets, POSIX rules and abbreviations; keeps UTC and Area/Location names", () => {
    for (const name of ["+05:30", "-0300", "UTC+5", "UTC-05:30", "GMT+2", "EST5EDT", "CET"])
      assert.equal(isPortableTimeZone(name), false, name);
    for (const name of ["EST", "IST", "GMT", "Z", "utc", "Factory", "posix/Europe/Paris", ""])
      assert.equal(isPortableTimeZone(name), false, name);
    for (const name of ["EST5EDT,M3.2.0/2,M11.1.0/2", "<+0530>-5:30", "Mars/Olympus_Mons"])
      assert.equal(isPortableTimeZone(name), false, name);
    for (const name of ["UTC", "Europe/London", "Asia/Kathmandu", "Etc/GMT+5", "US/Eastern"])
      assert.equal(isPortableTimeZone(name), true, name);
    assert.equal(isPortableTimeZone("America/Argentina/Buenos_Aires"), true);
  });

  test("every name it accepts reads the same in Postgres, across DST and history", async () => {
    const pgNames = (
      await db.pool.query<{ name: string }>("select name from pg_timezone_names")
    ).rows.map((r) => r.name);
    const candidates = new Set([...pgNames, ...Intl.supportedValuesOf("timeZone"), "UTC"]);
    const accepted = [...candidates].filter(isPortableTimeZone);
    // Intl's own list is covered whole: the rule turns away no zone a kiosk could show.
    for (const name of Intl.supportedValuesOf("timeZone"))
      assert.ok(isPortableTimeZone(name), `${name} is refused`);
    assert.ok(accepted.length > 400, String(accepted.length));
    accepted.push("europe/london", "ASIA/KOLKATA"); // both sides ignore case
    // Mid-month instants of past years, DST or not: what tells a name read the same way
    // (the same zone, the same sign) from one read differently. Not the coming years:
    // Node's ICU and the system's tz database may be of different releases (today 2026c
    // and 2025b: America/Vancouver's permanent DST, Morocco's coming Ramadans), which no
    // naming rule can fix (docs/operations.md, Time zone data: keep both up to date).
    const instants = ["2019", "2010"].flatMap((year) =>
      Array.from(
        { length: 12 },
        (_, m) => `${year}-${String(m + 1).padStart(2, "0")}-15T21:09:00Z`,
      ),
    );
    instants.push("1995-07-01T12:00:00Z");
    const { rows } = await db.pool.query<{ zone: string; at: Date; local: string }>(
      `select zone, at, to_char(at at time zone zone, 'YYYY-MM-DD HH24:MI') as local
       from unnest($1::text[]) zone, unnest($2::timestamptz[]) at`,
      [accepted, instants],
    );
    assert.equal(rows.length, accepted.length * instants.length);
    const differ = rows
      .filter((r) => localTime(r.zone, r.at) !== r.local)
      .map(
        (r) =>
          `${r.zone} at ${r.at.toISOString()}: Postgres ${r.local}, Intl ${localTime(r.zone, r.at)}`,
      );
    assert.deepEqual(differ, []);
  });
});
