import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import request from "supertest";
import type { Pool } from "../../common/postgres.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { testNames } from "../../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../../test-support/schema-before.ts";
import { queryNumber } from "../../test-support/stored-votes.ts";

// An existing deployment upgraded to schools (migration 017): what existed moves into the
// school `default` with its name equal to its id, so nothing is lost and every URL, token
// and stored vote keeps working.

const names = testNames();
let pool: Pool;
let h: IngestHarness | undefined;
let old: DatabaseBefore;

before(async () => {
  // The database as the release before schools left it: migrations up to 016.
  old = await databaseBefore(17, names.database);
  pool = old.pool;
  await pool.query(`
    insert into polls (id, title, time_zone) values ('lunch', 'Lunch', 'Europe/Oslo');
    insert into poll_options (poll_id, id, label, position) values ('lunch', 'yes', 'Yes', 1);
    insert into kiosks (id, name, token_hash)
      values ('hall', 'Hall', sha256(convert_to('old-kiosk-token', 'UTF8')));
    insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
      values ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b', 'lunch', 'yes', 'hall', 'v1', now(), now(), 1)`);
});
after(async () => {
  await h?.close(); // drops the database
  await old?.close();
});

test("017 moves every poll and kiosk into the default school, and keeps their ids and votes", async () => {
  await old.upgrade();
  const polls = await pool.query("select id, school_id, slug from polls");
  assert.deepEqual(polls.rows, [{ id: "lunch", school_id: "default", slug: "lunch" }]);
  const kiosks = await pool.query("select id, school_id, slug from kiosks");
  assert.deepEqual(kiosks.rows, [{ id: "hall", school_id: "default", slug: "hall" }]);
  const school = await pool.query("select id, name, time_zone from schools");
  assert.deepEqual(school.rows, [{ id: "default", name: "Default school", time_zone: "UTC" }]);
  assert.equal(await queryNumber(pool, "select count(*) from votes where poll_id = 'lunch'"), 1);

  // The API on the upgraded database: the same URLs and the same kiosk token.
  h = await startIngestHarness({}, { names });
  const poll = await request(h.app).get("/v1/polls/lunch").set(ADMIN).expect(200);
  assert.equal(poll.body.schoolId, "default");
  assert.equal(poll.body.timeZone, "Europe/Oslo");
  const vote = await request(h.app)
    .post("/v1/votes")
    .set({ Authorization: "Bearer old-kiosk-token" })
    .send({ pollId: "lunch", optionId: "yes" });
  assert.equal(vote.status, 202, vote.text);
  const list = await request(h.app).get("/v1/public/polls").expect(200);
  assert.deepEqual(
    list.body.polls.map((p: { id: string }) => p.id),
    ["lunch"],
  );
  await request(h.app).get("/dashboard/lunch").expect(200);
});
