import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response } from "supertest";
import { v7 as uuidv7 } from "uuid";
import { listDeadLetters, REPLAY_PAGE_ROWS } from "../../common/dead-letters.ts";
import { voteSubject } from "../../common/votes-stream.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { makeVote } from "../../test-support/vote-messages.ts";

// The dead letters' routes as a careless client and an attacker would call them: a query
// given twice, a misspelt filter (which, ignored, would replay every poll's letters), ids
// past 2^53 or with path tricks, a dead letter of 1 MiB and one of emoji in a listing, one
// letter replayed twice at once, and a backlog larger than a replay-all takes (read a page
// at a time). No writer: JetStream's ack and the rows' replayed_at say what happened.

const REPLAY_MAX = 70;

describe("dead letters probed: odd queries, ids, sizes, races, a backlog", () => {
  let h: IngestHarness;

  const issues = (res: Response) =>
    (res.body.error?.details?.issues ?? []) as { field: string; message: string }[];
  const refused = (res: Response, field: string, message: RegExp) => {
    assert.equal(res.status, 400, `${res.status}: ${res.text.slice(0, 300)}`);
    assert.equal(res.body.error.code, "invalid_request");
    const issue = issues(res).find((i) => i.field === field);
    assert.ok(issue, `an issue naming ${field}: ${res.text.slice(0, 300)}`);
    assert.match(issue.message, message);
  };
  const deadLetter = async (pollId: string, raw: Buffer = Buffer.from("{}"), itemIndex = -1) => {
    const { rows } = await h.db.pool.query<{ id: string }>(
      `insert into dead_letters (stream, stream_seq, item_index, subject, raw, error, deliveries, reason, msg_id)
       values ($1, 1, $2, $3, $4, 'P0001: probe', 1, 'invalid', $5) returning id`,
      [h.names.streamName, itemIndex, voteSubject(h.names.subjectPrefix, pollId), raw, uuidv7()],
    );
    return String(rows[0]!.id);
  };
  const pending = async (pollId: string) =>
    (
      await h.db.pool.query<{ n: number }>(
        "select count(*)::int as n from dead_letters where subject = $1 and replayed_at is null",
        [voteSubject(h.names.subjectPrefix, pollId)],
      )
    ).rows[0]!.n;

  before(async () => {
    h = await startIngestHarness({ DEAD_LETTERS_REPLAY_MAX: String(REPLAY_MAX) });
  });
  after(() => h?.close());

  test("a query given twice, out of range or misspelt: 400 naming the field", async () => {
    const get = (q: string) => request(h.app).get(`/v1/dead-letters?${q}`).set(ADMIN);
    refused(await get("limit=1&limit=2"), "limit", /given once/);
    for (const bad of ["-1", "NaN", "1.5", "1e3", "", "0x10", "501"])
      refused(await get(`limit=${bad}`), "limit", /whole number from 1 to/);
    refused(await get("pollId=a&pollId=b"), "pollId", /given once/);
    refused(await get(`pollId=${encodeURIComponent("../lunch")}`), "pollId", /letters, digits/);
    refused(await get(`pollId=${encodeURIComponent("lünch")}`), "pollId", /letters, digits/);
    refused(await get("state=all&state=pending"), "state", /given once/);
    refused(await get("reason[]=invalid"), "reason[]", /not a known field/);
    // Past 2^53 a Number would be another id than the one asked for.
    refused(await get("after=9007199254740993"), "after", /dead letter id/);
    refused(await get("poll=lunch"), "poll", /not a known field/);
  });

  test("replay-all with a misspelt filter replays nothing (it would have taken every poll's)", async () => {
    await deadLetter("typo");
    const before = await pending("typo");
    for (const q of ["poll=lunch", "pollId=lunch&pollId=dinner", "reason=invalid&extra=1"]) {
      const res = await request(h.app).post(`/v1/dead-letters/replay?${q}`).set(ADMIN);
      assert.equal(res.status, 400, `${q}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    assert.equal(await pending("typo"), before, "nothing was replayed");
  });

  test("an id with path tricks or past 2^53: 400; an empty or JSON body is ignored", async () => {
    for (const id of ["..%2F1", "1%2F..", "0", "-1", "1.0", "9007199254740993", "%F0%9F%92%A5"]) {
      const res = await request(h.app).post(`/v1/dead-letters/${id}/replay`).set(ADMIN);
      assert.equal(res.status, 400, `${id}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(res.body.error.code, "invalid_request");
    }
    const missing = await request(h.app)
      .post("/v1/dead-letters/900719925474099/replay")
      .set(ADMIN)
      .send({ anything: true });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "dead_letter_not_found");
  });

  test("a 1 MiB dead letter and one of emoji listed: a preview, and the size of all", async () => {
    const big = await deadLetter("big", Buffer.alloc(1024 * 1024, "x"));
    const emoji = "🗳️".repeat(400); // two code points each; 7 bytes each
    const wide = await deadLetter("big", Buffer.from(emoji));
    const res = await request(h.app).get("/v1/dead-letters?pollId=big").set(ADMIN);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const byId = new Map(
      res.body.deadLetters.map((d: { id: string; raw: string; rawBytes: number }) => [d.id, d]),
    );
    const b = byId.get(big) as { raw: string; rawBytes: number };
    assert.equal(b.rawBytes, 1024 * 1024);
    assert.equal(b.raw, "x".repeat(500));
    const w = byId.get(wide) as { raw: string; rawBytes: number };
    assert.equal(w.rawBytes, Buffer.byteLength(emoji));
    // The preview is the first 500 characters of the whole, not a cut of a cut.
    assert.equal(w.raw, emoji.slice(0, 500));
    // What the listing read from Postgres: a prefix, not the MiB (500 of them in a page).
    const [read] = await listDeadLetters(
      h.db.pool,
      { subject: voteSubject(h.names.subjectPrefix, "big") },
      1,
      { rawPrefixBytes: 2000 },
    );
    assert.equal(read!.raw.byteLength, 2000);
    assert.equal(read!.rawBytes, 1024 * 1024);
  });

  test("one dead letter replayed twice at once: both answered, JetStream stored it once", async () => {
    const vote = makeVote({ pollId: "race", optionId: "pizza" });
    const id = await deadLetter("race", Buffer.from(JSON.stringify(vote)), 0);
    const [a, b] = await Promise.all(
      [0, 1].map(() => request(h.app).post(`/v1/dead-letters/${id}/replay`).set(ADMIN)),
    );
    assert.equal(a!.status, 200, a!.text);
    assert.equal(b!.status, 200, b!.text);
    assert.equal(a!.body.seq, b!.body.seq, "one stream message");
    assert.deepEqual([a!.body.duplicate, b!.body.duplicate].sort(), [false, true]);
    assert.equal(await pending("race"), 0);
  });

  test("a backlog larger than a replay-all takes: oldest first, in pages, `more` until done", async () => {
    const total = REPLAY_MAX + REPLAY_PAGE_ROWS + 3;
    const ids: string[] = [];
    for (let i = 0; i < total; i++) ids.push(await deadLetter("backlog"));
    const first = await request(h.app).post("/v1/dead-letters/replay?pollId=backlog").set(ADMIN);
    assert.equal(first.status, 200, first.text.slice(0, 300));
    assert.deepEqual(
      first.body.replayed.map((r: { id: string }) => r.id),
      ids.slice(0, REPLAY_MAX),
    );
    assert.equal(first.body.more, true);
    const second = await request(h.app).post("/v1/dead-letters/replay?pollId=backlog").set(ADMIN);
    assert.deepEqual(
      second.body.replayed.map((r: { id: string }) => r.id),
      ids.slice(REPLAY_MAX),
    );
    assert.equal(second.body.more, false);
    assert.equal(await pending("backlog"), 0);
  });
});
