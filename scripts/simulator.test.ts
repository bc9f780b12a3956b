import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runNode } from "../harness/child-processes.ts";
import { type LocalServer, listenLocally } from "../test-support/http-listen.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { ADMIN_TOKEN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { writerEnv } from "../test-support/service-env.ts";
import { makeVote, placeKiosks, simPolls, Voters } from "./simulator/kiosk.ts";
import { readKioskFile, type SeededPoll } from "./simulator/kiosk-file.ts";
import { readEventIds, readRunMeta } from "./simulator/run-file.ts";
import { seed } from "./simulator/seeding.ts";
import type { SimSummary } from "./simulator/simulation.ts";

// The demo seed, the kiosk simulator and `npm run verify` against a real system in this
// process (ingest API on port 0, batch writer, result publisher), with this file's own
// database, stream, consumer and Redis prefix. The simulator and verify run as the CLIs.

describe("seed, simulate, verify", () => {
  let h: IngestHarness;
  let server: LocalServer;
  let writer: InProcessWriter;
  let publisher: InProcessPublisher;
  let apiUrl: string;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    h = await startIngestHarness();
    server = await listenLocally(h.app);
    apiUrl = server.url;
    const wEnv = writerEnv(h.names, h.db.url, { BATCH_LINGER_MS: "100" });
    writer = await startWriterInProcess(wEnv);
    publisher = await startPublisherInProcess(
      {
        ...wEnv,
        REDIS_KEY_PREFIX: h.names.redisKeyPrefix,
        RESULTS_INTERVAL_MS: "1000",
        PUBLISHER_METRICS_PORT: "0",
        CHART_WIDTH: "400",
        CHART_HEIGHT: "300",
        SHUTDOWN_DEADLINE_MS: "5000",
      },
      { scheduled: true },
    );
    dir = await mkdtemp(join(tmpdir(), "tf-sim-"));
    env = {
      ...wEnv,
      REDIS_KEY_PREFIX: h.names.redisKeyPrefix,
      ADMIN_TOKEN,
      API_URL: apiUrl,
      LOG_LEVEL: "silent",
    };
  });

  after(async () => {
    await publisher?.close();
    await writer?.close();
    await server?.close();
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("seed is idempotent: polls kept, kiosks reused, missing ones added", async () => {
    const file = join(dir, "kiosks.json");
    // demo-checkin as an older seed made it, one-vote-per-voter: without votes it is switched
    const older = await fetch(`${apiUrl}/v1/polls`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({
        id: "demo-checkin",
        title: "Morning check-in",
        timeZone: "Asia/Tokyo",
        oneVotePerVoter: true,
        options: [
          { id: "on-time", label: "On time" },
          { id: "late", label: "Late" },
          { id: "early-pickup", label: "Leaving early today" },
        ],
      }),
    });
    assert.equal(older.status, 201);
    const first = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 20, file });
    assert.deepEqual(
      first.polls.map((p) => [p.id, p.outcome]),
      [
        ["demo-lunch", "created"],
        ["demo-fair-feedback", "created"],
        ["demo-checkin", "kept"],
        ["demo-council", "created"],
      ],
    );
    assert.equal(first.kiosksCreated, 20);
    const written = await readKioskFile(file);
    assert.ok(written);
    assert.equal(written.kiosks.length, 20);
    assert.match(written.note, /only copy/);
    const byPoll = new Map(written.polls.map((p) => [p.id, p]));
    assert.equal(byPoll.get("demo-fair-feedback")?.resultsVisibility, "after_close");
    // a check-in poll as report 10 reads one: people check in again, so not one-vote
    assert.equal(byPoll.get("demo-checkin")?.oneVotePerVoter, false);
    assert.equal(byPoll.get("demo-checkin")?.checkIn, true);
    const { rows: rule } = await h.db.pool.query<{ one_vote_per_voter: boolean }>(
      "select one_vote_per_voter from polls where id = 'demo-checkin'",
    );
    assert.equal(rule[0]!.one_vote_per_voter, false);
    // voters who try twice need a one-vote poll of their own
    assert.equal(byPoll.get("demo-council")?.oneVotePerVoter, true);
    assert.equal(byPoll.get("demo-council")?.checkIn, false);
    assert.equal(new Set(written.polls.map((p) => p.timeZone)).size, 3, "three time zones");

    const second = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 20, file });
    assert.deepEqual(
      second.polls.map((p) => p.outcome),
      ["kept", "kept", "kept", "kept"],
    );
    assert.equal(second.kiosksReused, 20);
    assert.equal(second.kiosksCreated, 0);
    assert.deepEqual(
      (await readKioskFile(file))?.kiosks.map((k) => [k.id, k.token]),
      written.kiosks.map((k) => [k.id, k.token]),
      "the same tokens",
    );
    const { rows } = await h.db.pool.query<{ n: number }>("select count(*) as n from kiosks");
    assert.equal(rows[0]!.n, 20);

    // More kiosks wanted: only the missing ones are created; a token is never replaced.
    const third = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 22, file });
    assert.equal(third.kiosksReused, 20);
    assert.equal(third.kiosksCreated, 2);
    assert.equal((await stat(file)).mode & 0o777, 0o600, "tokens readable by the owner only");
  });

  let runFile: string;

  test("a short simulation writes a run file, and verify passes once the pipeline drained", async () => {
    const run = await runNode(
      "scripts/simulate.ts",
      [
        ...["--file", join(dir, "kiosks.json"), "--runs", join(dir, "runs")],
        ...["--kiosks", "20", "--rate", "200", "--duration", "3s"],
        ...["--offline", "10%", "--retry", "5%", "--voters", "300", "--twice", "10%"],
        ...["--seed", "7", "--json"],
      ],
      env,
      40_000,
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as SimSummary;
    runFile = summary.runFile;
    assert.equal(summary.errors, 0, run.stderr);
    assert.ok(summary.accepted > 400, `accepted ${summary.accepted}`);
    assert.ok(summary.resends > 0, "some responses were dropped and resent");
    assert.ok(summary.duplicates > 0, "a resent eventId answers duplicate");
    assert.equal(summary.offline.kiosks, 2);
    assert.ok(summary.offline.batches > 0, "offline kiosks flushed their queues as batches");
    assert.ok((summary.refusedByCode.already_voted ?? 0) > 0, "voters who tried twice");
    assert.match(run.stderr, /accepted/, "progress lines");
    assert.match(run.stderr, /latency p50/, "the summary table");

    const meta = await readRunMeta(runFile);
    assert.equal(meta.kioskIds.length, 20);
    const ids: string[] = [];
    for await (const id of readEventIds(join(dir, "runs", meta.eventIdsFile))) ids.push(id);
    assert.equal(ids.length, summary.eventIds);
    assert.equal(new Set(ids).size, ids.length, "each eventId once");
    assert.equal(ids.length, summary.accepted, "every accepted vote is listed, duplicates once");

    const verify = await runNode(
      "scripts/verify.ts",
      [runFile, "--drain-timeout", "20s"],
      env,
      40_000,
    );
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
    assert.match(verify.stdout, /VERIFY PASSED/);
    const stored = await h.db.pool.query<{ n: number }>("select count(*) as n from votes");
    assert.equal(stored.rows[0]!.n, ids.length);

    // Drained: the offline kiosks' votes, cast before they came back, kept their old castAt.
    assert.equal(summary.offline.kioskIds.length, 2);
    assert.ok(summary.offline.queuedVotes > 0, "offline kiosks queued votes");
    const { rows: old } = await h.db.pool.query<{ n: number }>(
      `select count(*) as n from votes
       where kiosk_id = any($1) and received_at - cast_at > interval '1 second'`,
      [summary.offline.kioskIds],
    );
    assert.ok(old[0]!.n > 0, "old castAt stored");

    // The seeded check-in poll is one report 10 accepts (every check-in names its voter).
    const attendance = await runNode(
      "scripts/report.ts",
      ["attendance", "--poll", "demo-checkin", "--format", "csv"],
      { ...env, DATABASE_URL: h.db.url },
      40_000,
    );
    assert.equal(attendance.code, 0, attendance.stderr);
    const [header, ...days] = attendance.stdout.trim().split("\n");
    assert.equal(header, "day,weekday,present,voters,share_pct,session_day");
    assert.ok(days.length > 0 && days.some((d) => d.endsWith(",t")), attendance.stdout);
  });

  test("verify fails when a vote is lost or an extra one is stored", async () => {
    const meta = await readRunMeta(runFile);
    // A vote of the live poll (every stored vote belongs to the run, as the last test showed).
    const { rows: deleted } = await h.db.pool.query(
      `delete from votes where event_id =
         (select event_id from votes where poll_id = 'demo-lunch' order by event_id limit 1)
       returning *`,
    );
    assert.equal(deleted.length, 1);
    const first = String((deleted[0] as { event_id: string }).event_id);
    const lost = await runNode(
      "scripts/verify.ts",
      [runFile, "--publish-timeout", "3s"],
      env,
      40_000,
    );
    assert.equal(lost.code, 1, lost.stdout);
    assert.match(lost.stdout, /VERIFY FAILED/);
    assert.match(lost.stdout, new RegExp(`LOST: 1 votes .*\\n\\s+${first}`));
    assert.match(lost.stdout, /DIFFERS/, "and the published totals no longer match");

    // Put it back, and add a vote from one of the run's kiosks that never got a 202.
    const row = deleted[0] as Record<string, unknown>;
    await h.db.pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
       values ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        row.event_id,
        row.poll_id,
        row.option_id,
        row.kiosk_id,
        row.voter_id,
        row.cast_at,
        row.received_at,
        row.stream_seq,
      ],
    );
    const extraId = randomUUID();
    await h.db.pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       values ($1, $2, $3, $4, $5, $5, 1)`,
      [extraId, row.poll_id, row.option_id, meta.kioskIds[0], new Date(meta.endedAt)],
    );
    const extra = await runNode(
      "scripts/verify.ts",
      [runFile, "--publish-timeout", "3s"],
      env,
      40_000,
    );
    assert.equal(extra.code, 1, extra.stdout);
    assert.match(extra.stdout, new RegExp(`EXTRA: 1 votes .*\\n\\s+${extraId}`));
    assert.doesNotMatch(extra.stdout, /LOST/);

    await h.db.pool.query("delete from votes where event_id = $1", [extraId]);
    const again = await runNode("scripts/verify.ts", [runFile], env, 40_000);
    assert.equal(again.code, 0, again.stdout);
    // The run file is what verify reads; the kiosk file still holds the tokens.
    assert.match(await readFile(join(dir, "kiosks.json"), "utf8"), /tfk_/);
  });
});

describe("simulated voters", () => {
  const poll = (id: string, oneVotePerVoter: boolean, checkIn = false): SeededPoll => ({
    id,
    title: id,
    timeZone: "UTC",
    opensAt: null,
    closesAt: null,
    resultsVisibility: "live",
    oneVotePerVoter,
    checkIn,
    kioskShare: 1,
    options: [{ id: "a", label: "A", weight: 1 }],
  });

  test("a voter tries twice only in the one-vote poll they voted in", () => {
    const polls = simPolls(
      [poll("lunch", false), poll("council", true), poll("checkin", false, true)],
      true,
      Date.now(),
    );
    const kiosks = placeKiosks(
      [1, 2, 3].map((n) => ({ id: `k${n}`, name: `k${n}`, token: "t" })),
      polls,
      1,
      () => 0.5,
    );
    const at = (pollId: string) => kiosks.find((k) => k.poll.poll.id === pollId)!;
    const voters = new Voters(1_000_000);
    const always = () => 0; // every vote names a voter, and every one-vote vote tries again
    assert.equal(voters.again("council", always), undefined, "nobody has voted yet");
    assert.notEqual(makeVote(at("council"), Date.now(), always, voters, 1).voterId, undefined);

    voters.voted("council", "voter-council");
    assert.equal(voters.again("lunch", always), undefined, "remembered per poll");
    assert.equal(makeVote(at("council"), Date.now(), always, voters, 1).voterId, "voter-council");
    assert.notEqual(makeVote(at("lunch"), Date.now(), always, voters, 1).voterId, "voter-council");
    // check-ins always name a voter, drawn from the whole population: people come back
    assert.equal(at("checkin").poll.voterShare, 1);
    assert.equal(makeVote(at("checkin"), Date.now(), always, voters, 1).voterId, "voter-0");
  });
});
