import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { killChildren, runNode } from "../../harness/child-processes.ts";
import { createPoll, isoFromNow, minutes } from "../../test-support/api.ts";
import { ADMIN } from "../../test-support/ingest.ts";
import { type ResultsPipeline, startResultsPipeline } from "../../test-support/results-pipeline.ts";
import { insertStoredVote } from "../../test-support/stored-votes.ts";

describe("npm run reconcile", () => {
  let p: ResultsPipeline;
  const reconcile = () =>
    runNode("scripts/reconcile.ts", [], {
      DATABASE_URL: p.h.db.url,
      REDIS_URL: p.h.config.redisUrl,
      REDIS_KEY_PREFIX: p.h.names.redisKeyPrefix,
      LOG_LEVEL: "silent",
    });

  before(async () => {
    p = await startResultsPipeline();
    await createPoll(p.h.app, {
      id: "lunch",
      options: [
        { id: "pizza", label: "Pizza" },
        { id: "salad", label: "Salad" },
      ],
    });
    await createPoll(p.h.app, { id: "empty" });
    await createPoll(p.h.app, {
      id: "secret",
      resultsVisibility: "after_close",
      closesAt: isoFromNow(minutes(60)),
    });
    await p.voteBatch([
      { pollId: "lunch", optionId: "pizza" },
      { pollId: "lunch", optionId: "pizza" },
      { pollId: "lunch", optionId: "salad" },
      { pollId: "secret", optionId: "yes" },
      { pollId: "secret", optionId: "no" },
    ]);
    await p.stored(5);
    await p.publisher.run();
  });
  after(async () => {
    await killChildren();
    await p?.close();
  });

  test("exits 0 and says ok when published totals equal the count over votes", async () => {
    const { code, stdout, stderr } = await reconcile();
    const empty = await p.published("empty");
    const lunch = await p.published("lunch");
    assert.equal(
      stdout,
      [
        `empty: ok (0 votes, version ${empty.version})`,
        `lunch: ok (3 votes, version ${lunch.version})`,
        "secret: results hidden until close; 2 votes stored",
        "all published results agree with votes",
        "",
      ].join("\n"),
      stderr,
    );
    assert.equal(code, 0, stderr);
  });

  test("exits 1 naming the poll and option when votes holds a row the results lack", async () => {
    // Straight into votes: no rollup, no change marker, so nothing is republished.
    await insertStoredVote(p.h.db.pool, "lunch", "salad");
    await createPoll(p.h.app, { id: "unpublished" });
    await insertStoredVote(p.h.db.pool, "unpublished", "no");
    assert.deepEqual((await p.publisher.run()).published, ["unpublished"]);
    // The publisher reads rollups only: "unpublished" shows 0 votes, lunch still 3.
    const lunch = await p.published("lunch");
    // And a poll that was never published.
    await createPoll(p.h.app, { id: "zz-new" });
    await insertStoredVote(p.h.db.pool, "zz-new", "yes");

    const { code, stdout, stderr } = await reconcile();
    const empty = await p.published("empty");
    const unpublished = await p.published("unpublished");
    assert.equal(
      stdout,
      [
        `empty: ok (0 votes, version ${empty.version})`,
        `lunch: DIFFERS (version ${lunch.version}, asOf ${lunch.asOf})`,
        "  salad: published 1, counted 2 (-1)",
        "  total: published 3, counted 4",
        "secret: results hidden until close; 2 votes stored",
        `unpublished: DIFFERS (version ${unpublished.version}, asOf null)`,
        "  no: published 0, counted 1 (-1)",
        "  total: published 0, counted 1",
        "zz-new: not published, but 1 votes are stored",
        "3 poll(s) differ",
        "",
      ].join("\n"),
      stderr,
    );
    assert.equal(code, 1, stderr);
  });

  test("an attendance register is skipped, and said so: it has no vote results by design", async () => {
    const res = await request(p.h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "main-door", kind: "attendance", title: "Main door" });
    assert.equal(res.status, 201, res.text);
    await p.h.db.pool.query(
      `insert into votes (event_id, poll_id, option_id, voter_id, kiosk_id, cast_at, received_at, stream_seq)
       values (gen_random_uuid(), 'main-door', 'in', 'p-1', 'door-kiosk', now(), now(), 1)`,
    );
    const { stdout, stderr } = await reconcile();
    const votePart = stdout.slice(0, stdout.indexOf("poll(s) differ") + "poll(s) differ".length);
    assert.doesNotMatch(votePart, /main-door/, stdout);
    assert.match(
      stdout,
      /\n1 attendance register\(s\) skipped: they publish no vote results \(their events are checked as attendance\)\n3 poll\(s\) differ\n/,
      stderr,
    );
  });
});
