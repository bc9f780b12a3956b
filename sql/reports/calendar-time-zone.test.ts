import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { createLoginRole, type LoginRole } from "../../test-support/database.ts";
import { type InProcessWriter, startPipelineWriter } from "../../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// Issue #11: a poll in "+05:30" put a 21:09Z vote on the wrong local day, since JavaScript
// read it as UTC+05:30 and Postgres (the reports) as UTC-05:30. Through the API, the
// writer and psql: the offset is refused, and the IANA name puts the vote on the next day.

const PSQL = process.env.PSQL ?? "psql";
const REPORT = join(import.meta.dirname, "03_calendar.sql");
const run = promisify(execFile);

/** The latest 21:09:00Z that is past (castAt may not be in the future). */
function last2109Z(): Date {
  const at = new Date();
  at.setUTCHours(21, 9, 0, 0);
  if (at.getTime() > Date.now()) at.setUTCDate(at.getUTCDate() - 1);
  return at;
}

describe("the calendar report in the poll's time zone", () => {
  let h: IngestHarness;
  let writer: InProcessWriter | undefined;
  let kiosk: TestKiosk;
  /** The report runs as an analyst (migration 016's read-only role). */
  let analyst: LoginRole;

  before(async () => {
    h = await startIngestHarness();
    kiosk = await createKiosk(h.app, "k1");
    writer = await startPipelineWriter(h);
    analyst = await createLoginRole(h.db, "tallyflow_analyst");
  });
  after(async () => {
    try {
      await writer?.close();
      await analyst?.drop();
    } finally {
      await h?.close();
    }
  });

  test('"+05:30" is refused naming timeZone; an Asia/Kolkata 21:09Z vote is on the next local day', async () => {
    const offset = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "kolkata",
        title: "K",
        options: [{ id: "yes", label: "Yes" }],
        timeZone: "+05:30",
      });
    expectError(offset, 400, "invalid_request");
    assert.match(offset.body.error.message, /^timeZone: /);

    await createPoll(h.app, { id: "kolkata", timeZone: "Asia/Kolkata" });
    const castAt = last2109Z();
    const res = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "kolkata", optionId: "yes", castAt: castAt.toISOString() });
    assert.equal(res.status, 202, res.text);
    await eventually(
      "the writer stores the vote",
      async () => {
        const { rows } = await h.db.pool.query("select 1 from votes where poll_id = 'kolkata'");
        return rows.length === 1 ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );

    const { stdout } = await run(PSQL, [
      "-X",
      "--csv",
      "--dbname",
      analyst.url,
      "-v",
      "poll_id=kolkata",
      "-v",
      "period=day",
      "-f",
      REPORT,
    ]);
    // 21:09 UTC is 02:39 the next day in India (UTC+05:30, no DST).
    const nextDay = new Date(castAt.getTime() + 86_400_000).toISOString().slice(0, 10);
    const days = stdout
      .trim()
      .split("\n")
      .slice(1)
      .filter((line) => !line.endsWith(",0"));
    assert.deepEqual(days, [`day,${nextDay},yes,Yes,1`]);
  });
});
