import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import { ID_PATTERN } from "../common/vote.ts";
import { runNode } from "../harness/child-processes.ts";
import { prng } from "../harness/seeded-random.ts";
import { eventually } from "../harness/waiting.ts";
import { type LocalServer, listenLocally } from "../test-support/http-listen.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { ADMIN_TOKEN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { writerEnv } from "../test-support/service-env.ts";
import { makeVote, placeKiosks, simPolls } from "./simulator/kiosk.ts";
import {
  readKioskFile,
  type SeededKiosk,
  type SeededPoll,
  type SeededSchool,
} from "./simulator/kiosk-file.ts";
import { isUnknownPersonId, personId, rosterCsvChunks, rosterScheme } from "./simulator/roster.ts";
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

  test("seed --schools 0 is the default school's demo, as before schools: idempotent, polls kept, kiosks reused, missing ones added", async () => {
    const file = join(dir, "default.json");
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
    const first = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 6, file, schools: 0 });
    assert.deepEqual(
      first.polls.map((p) => [p.id, p.schoolId, p.outcome]),
      [
        ["demo-lunch", "default", "created"],
        ["demo-fair-feedback", "default", "created"],
        ["demo-checkin", "default", "kept"],
        ["demo-council", "default", "created"],
      ],
    );
    assert.equal(first.kiosksCreated, 6);
    const written = await readKioskFile(file);
    assert.ok(written);
    assert.deepEqual(written.layout, { schools: 0, people: 0 });
    assert.deepEqual(
      written.schools.map((s) => [s.id, s.people]),
      [["default", null]],
    );
    assert.deepEqual(
      written.kiosks.map((k) => [k.id, k.schoolId, k.slug]),
      [1, 2, 3, 4, 5, 6].map((n) => {
        const id = `demo-kiosk-000${n}`;
        return [id, "default", id]; // in the default school an id is its name
      }),
    );
    assert.match(written.note, /only copy/);
    const byPoll = new Map(written.polls.map((p) => [p.id, p]));
    assert.equal(byPoll.get("demo-fair-feedback")?.resultsVisibility, "after_close");
    // open to any voter id: the bench's and the chaos suite's voters are free text
    assert.deepEqual(new Set(written.polls.map((p) => p.voters)), new Set(["any"]));
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

    // Without --schools the file's layout is kept.
    const second = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 6, file });
    assert.deepEqual(
      second.polls.map((p) => p.outcome),
      ["kept", "kept", "kept", "kept"],
    );
    assert.equal(second.kiosksReused, 6);
    assert.equal(second.kiosksCreated, 0);
    assert.deepEqual(
      (await readKioskFile(file))?.kiosks.map((k) => [k.id, k.token]),
      written.kiosks.map((k) => [k.id, k.token]),
      "the same tokens",
    );
    const { rows } = await h.db.pool.query<{ n: number }>("select count(*) as n from kiosks");
    assert.equal(rows[0]!.n, 6);

    // More kiosks wanted: only the missing ones are created; a token is never replaced.
    const third = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 8, file });
    assert.equal(third.kiosksReused, 6);
    assert.equal(third.kiosksCreated, 2);
    assert.equal((await stat(file)).mode & 0o777, 0o600, "tokens readable by the owner only");
    // Schools would leave the default school's kiosk tokens out of the file: refused.
    await assert.rejects(
      seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 8, file, schools: 2 }),
      /holds 8 kiosk tokens of a seed with --schools 0 .*another file \(--file PATH\)/,
    );
  });

  test("seed --schools --people: schools with the demo polls and a roster each, kiosks spread over them; a second seed keeps everything and its imports answer unchanged", async () => {
    const file = join(dir, "kiosks.json");
    const lines: string[] = [];
    const first = await seed({
      apiUrl,
      adminToken: ADMIN_TOKEN,
      kiosks: 8,
      file,
      schools: 2,
      people: 30,
      importBytes: 700, // a roster in several imports
      log: (line) => lines.push(line),
    });
    assert.deepEqual(first.schools, [
      { id: "school-0001", outcome: "created" },
      { id: "school-0002", outcome: "created" },
    ]);
    assert.deepEqual(first.people, { created: 60, updated: 0, unchanged: 0 });
    assert.equal(first.polls.length, 8);
    assert.ok(first.polls.every((p) => p.outcome === "created"));
    assert.match(
      lines.join("\n"),
      /school school-0001 \(School 1, Europe\/London\): created; polls: 4 created, 0 kept; roster of 30: 30 created/,
    );

    const written = await readKioskFile(file);
    assert.ok(written);
    assert.deepEqual(written.layout, { schools: 2, people: 30 });
    assert.deepEqual(
      written.schools.map((s) => [s.id, s.name, s.timeZone, s.people]),
      [
        [
          "school-0001",
          "School 1",
          "Europe/London",
          { count: 30, idPrefix: "school-0001-", digits: 6 },
        ],
        [
          "school-0002",
          "School 2",
          "America/New_York",
          { count: 30, idPrefix: "school-0002-", digits: 6 },
        ],
      ],
    );
    // The same names in every school, a drawn suffix on the id; a school's polls take its time zone.
    for (const school of written.schools) {
      const polls: SeededPoll[] = written.polls.filter((p) => p.schoolId === school.id);
      assert.deepEqual(
        polls.map((p) => [p.slug, p.voters, p.oneVotePerVoter, p.timeZone]),
        [
          ["demo-lunch", "any", false, school.timeZone],
          ["demo-fair-feedback", "any", false, school.timeZone],
          ["demo-checkin", "roster", false, school.timeZone],
          ["demo-council", "roster", true, school.timeZone],
        ],
      );
      for (const p of polls) assert.match(p.id, new RegExp(`^${p.slug}-[a-z0-9]+$`));
    }
    // Kiosk n in school n of the seed, round robin; the registry agrees.
    assert.deepEqual(
      written.kiosks.map((k) => [k.slug, k.schoolId]),
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [`demo-kiosk-000${n}`, `school-000${2 - (n % 2)}`]),
    );
    const { rows: kioskRows } = await h.db.pool.query<{ id: string; school_id: string }>(
      "select id, school_id from kiosks where school_id <> 'default' order by id",
    );
    assert.deepEqual(
      kioskRows.map((r) => [r.id, r.school_id]),
      written.kiosks.map((k) => [k.id, k.schoolId]).sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
    // The rosters: people 1 … 30 of each school, named, in classes (the last 4 % staff).
    const { rows: people } = await h.db.pool.query<{
      school_id: string;
      id: string;
      name: string | null;
      groups: string[];
      active: boolean;
    }>("select school_id, id, name, groups, active from people order by school_id, id");
    assert.equal(people.length, 60);
    assert.equal(people[0]!.id, "school-0001-000001");
    assert.equal(people[59]!.id, "school-0002-000030");
    for (const p of people) {
      assert.ok(p.id.startsWith(`${p.school_id}-`), p.id);
      assert.ok(p.active);
      assert.match(p.name ?? "", /^\S+ \S+$/);
      assert.ok(
        p.groups.length === 1 ? p.groups[0] === "staff" : /^Y\d+$/.test(p.groups[0]!),
        p.groups.join(";"),
      );
    }
    assert.ok(new Set(people.map((p) => p.name)).size > 20, "names vary");

    const second = await seed({
      apiUrl,
      adminToken: ADMIN_TOKEN,
      kiosks: 8,
      file,
      importBytes: 700,
    });
    assert.deepEqual(second.layout, { schools: 2, people: 30 }, "the file's layout");
    assert.ok(second.schools.every((s) => s.outcome === "kept"));
    assert.ok(second.polls.every((p) => p.outcome === "kept"));
    assert.deepEqual(
      second.polls.map((p) => p.id),
      first.polls.map((p) => p.id),
      "polls found by their name in the school",
    );
    assert.deepEqual(second.people, { created: 0, updated: 0, unchanged: 60 });
    assert.equal(second.kiosksReused, 8);
    assert.equal(second.kiosksCreated, 0);

    // More schools: the new one is seeded, the others kept; fewer would drop kiosk tokens.
    const third = await seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 9, file, schools: 3 });
    assert.deepEqual(
      third.schools.map((s) => [s.id, s.outcome]),
      [
        ["school-0001", "kept"],
        ["school-0002", "kept"],
        ["school-0003", "created"],
      ],
    );
    assert.deepEqual(third.people, { created: 30, updated: 0, unchanged: 60 });
    assert.equal(third.kiosksReused, 8);
    assert.equal(third.content.kiosks.at(-1)?.schoolId, "school-0003", "kiosk 9 in school 3");
    await assert.rejects(
      seed({ apiUrl, adminToken: ADMIN_TOKEN, kiosks: 9, file, schools: 1 }),
      /--schools 3 --people 30; --schools 1 --people 30 would leave some out/,
    );
  });

  let runFile: string;

  test("a short simulation: kiosks vote in their school's polls with its people's ids, unknown ids are refused and counted, verify passes once the pipeline drained", async () => {
    // The API follows a roster import within a second (its NOTIFY); on a loaded machine the
    // simulation could otherwise start before this API knows school-0003's people.
    await eventually("the API knows the three rosters", () => h.people.people === 90);
    const run = await runNode(
      "scripts/simulate.ts",
      [
        ...["--file", join(dir, "kiosks.json"), "--runs", join(dir, "runs")],
        ...["--kiosks", "9", "--rate", "300", "--duration", "3s"],
        ...["--offline", "10%", "--retry", "5%", "--twice", "10%", "--unknown-voters", "5%"],
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
    assert.equal(summary.kiosks, 9);
    assert.equal(summary.schools, 3);
    assert.equal(summary.offline.kiosks, 1);
    assert.ok(summary.offline.batches > 0, "offline kiosks flushed their queues as batches");
    assert.ok((summary.refusedByCode.already_voted ?? 0) > 0, "voters who tried twice");
    // Unknown ids only where they were made up on purpose, and every one of them refused.
    assert.ok(summary.roster.unknownCast > 0, "some ids on no roster");
    assert.equal(summary.roster.unknownRefused, summary.roster.unknownCast, run.stderr);
    assert.equal(summary.refusedByCode.unknown_person, summary.roster.unknownCast);
    assert.equal(summary.roster.unknownAccepted, 0);
    assert.equal(summary.roster.peopleRefusedAsUnknown, 0, "no real person refused as unknown");
    assert.match(run.stderr, /unknown voter ids/, "the summary table says so");
    assert.match(run.stderr, /accepted/, "progress lines");
    assert.match(run.stderr, /latency p50/, "the summary table");

    const meta = await readRunMeta(runFile);
    assert.equal(meta.kioskIds.length, 9);
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
    assert.equal(summary.offline.kioskIds.length, 1);
    assert.ok(summary.offline.queuedVotes > 0, "offline kiosks queued votes");
    const { rows: old } = await h.db.pool.query<{ n: number }>(
      `select count(*) as n from votes
       where kiosk_id = any($1) and received_at - cast_at > interval '1 second'`,
      [summary.offline.kioskIds],
    );
    assert.ok(old[0]!.n > 0, "old castAt stored");

    // Each kiosk voted in its own school's polls only; every stored vote of a roster poll
    // names a person of the poll's school, and the roster polls of all three schools have votes.
    const { rows: schoolVotes } = await h.db.pool.query<{
      votes: number;
      other_school: number;
      roster_votes: number;
      not_a_person: number;
      roster_schools: number;
    }>(
      `select count(*) as votes,
              count(*) filter (where k.school_id <> p.school_id) as other_school,
              count(*) filter (where p.voters = 'roster') as roster_votes,
              count(*) filter (where p.voters = 'roster' and not exists (
                select 1 from people x
                where x.school_id = p.school_id and x.id = v.voter_id and x.active)) as not_a_person,
              count(distinct p.school_id) filter (where p.voters = 'roster') as roster_schools
       from votes v join polls p on p.id = v.poll_id join kiosks k on k.id = v.kiosk_id`,
    );
    const tally = schoolVotes[0]!;
    assert.equal(tally.other_school, 0, "a kiosk votes in its own school's polls only");
    assert.equal(tally.not_a_person, 0, "a roster poll's votes name people of its school");
    assert.equal(tally.roster_schools, 3);
    assert.ok(tally.roster_votes > 50, `roster votes ${tally.roster_votes}`);

    // The seeded check-in poll is one report 10 accepts (every check-in names its voter).
    const file = await readKioskFile(join(dir, "kiosks.json"));
    const checkIn = file?.polls.find((p) => p.schoolId === "school-0001" && p.checkIn);
    assert.ok(checkIn);
    const attendance = await runNode(
      "scripts/report.ts",
      ["attendance", "--poll", checkIn.id, "--format", "csv"],
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
         (select event_id from votes where poll_id like 'demo-lunch-%' order by event_id limit 1)
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
  const poll = (
    id: string,
    oneVotePerVoter: boolean,
    o: { checkIn?: boolean; schoolId?: string; voters?: "any" | "roster" } = {},
  ): SeededPoll => ({
    id,
    schoolId: o.schoolId ?? "default",
    slug: id,
    title: id,
    timeZone: "UTC",
    opensAt: null,
    closesAt: null,
    resultsVisibility: "live",
    oneVotePerVoter,
    voters: o.voters ?? "any",
    checkIn: o.checkIn ?? false,
    kioskShare: 1,
    options: [{ id: "a", label: "A", weight: 1 }],
  });
  const kiosk = (n: number, schoolId = "default"): SeededKiosk => ({
    id: `k${n}`,
    schoolId,
    slug: `k${n}`,
    name: `k${n}`,
    token: "t",
  });
  const noRoster: SeededSchool = { id: "default", name: "D", timeZone: "UTC", people: null };
  const always = () => 0; // every vote names a voter, and every one-vote vote tries again

  test("a voter tries twice only in the one-vote poll they voted in", () => {
    const { polls } = simPolls(
      {
        schools: [noRoster],
        polls: [
          poll("lunch", false),
          poll("council", true),
          poll("checkin", false, { checkIn: true }),
        ],
      },
      { voters: 1_000_000, nowMs: Date.now() },
    );
    const kiosks = placeKiosks(
      [1, 2, 3].map((n) => kiosk(n)),
      polls,
      1,
      () => 0.5,
    );
    const at = (pollId: string) => kiosks.find((k) => k.poll.poll.id === pollId)!;
    const voters = at("council").poll.voters!;
    assert.equal(at("lunch").poll.voters, voters, "one free-text population");
    const mix = { twice: 1, unknown: 0 };
    assert.equal(voters.again("council", always), undefined, "nobody has voted yet");
    assert.match(makeVote(at("council"), Date.now(), always, mix).voterId ?? "", /^voter-\d+$/);

    voters.voted("council", "voter-council");
    assert.equal(voters.again("lunch", always), undefined, "remembered per poll");
    assert.equal(makeVote(at("council"), Date.now(), always, mix).voterId, "voter-council");
    assert.notEqual(makeVote(at("lunch"), Date.now(), always, mix).voterId, "voter-council");
    // check-ins always name a voter, drawn from the whole population: people come back
    assert.equal(at("checkin").poll.voterShare, 1);
    assert.equal(makeVote(at("checkin"), Date.now(), always, mix).voterId, "voter-0");
  });

  test("a kiosk votes in its school's polls, naming people of its roster; unknown ids only on purpose", () => {
    const north: SeededSchool = {
      id: "north",
      name: "North",
      timeZone: "UTC",
      people: rosterScheme("north", 50),
    };
    const south: SeededSchool = { id: "south", name: "South", timeZone: "UTC", people: null };
    const { polls, skipped } = simPolls(
      {
        schools: [north, south],
        polls: [
          poll("north-lunch", false, { schoolId: "north" }),
          poll("north-council", true, { schoolId: "north", voters: "roster" }),
          poll("south-council", true, { schoolId: "south", voters: "roster" }),
        ],
      },
      { voters: 0, nowMs: Date.now() },
    );
    assert.deepEqual(
      polls.map((p) => [p.poll.id, p.voterShare]),
      [
        ["north-lunch", 0], // no --voters: votes on a poll open to anyone name nobody
        ["north-council", 1], // a roster poll's votes always name a person
      ],
    );
    assert.match(skipped[0] ?? "", /south-council .* no roster/);
    // Kiosks of a school without an open poll are left out; the others stay in their school.
    const kiosks = placeKiosks(
      [kiosk(1, "north"), kiosk(2, "south"), kiosk(3, "north")],
      polls,
      1,
      () => 0.5,
    );
    assert.deepEqual(
      kiosks.map((k) => [k.id, k.poll.poll.schoolId]),
      [
        ["k1", "north"],
        ["k3", "north"],
      ],
    );
    const council = kiosks.find((k) => k.poll.poll.id === "north-council");
    assert.ok(council);
    const rand = prng(3);
    const ids = Array.from(
      { length: 200 },
      () => makeVote(council, Date.now(), rand, { twice: 0, unknown: 0 }).voterId!,
    );
    const people = new Set(Array.from({ length: 50 }, (_, i) => personId(north.people!, i + 1)));
    assert.ok(
      ids.every((id) => people.has(id)),
      "every id is a person of the roster",
    );
    assert.equal(new Set(ids.slice(0, 50)).size, 50, "fresh voters: each person once, then again");
    const unknown = makeVote(council, Date.now(), always, { twice: 0, unknown: 1 }).voterId!;
    assert.ok(isUnknownPersonId(unknown) && !people.has(unknown), unknown);
    assert.ok(![...people].some(isUnknownPersonId));
    const lunch = kiosks.find((k) => k.poll.poll.id === "north-lunch");
    assert.equal(
      makeVote(lunch!, Date.now(), always, { twice: 0, unknown: 1 }).voterId,
      undefined,
      "no voterId where none is asked for",
    );
    // --voters: polls open to anyone take voter ids too, from the roster where there is one
    const withVoters = simPolls(
      { schools: [north], polls: [poll("north-lunch", false, { schoolId: "north" })] },
      { voters: 10, nowMs: Date.now() },
    ).polls;
    assert.equal(withVoters[0]?.voterShare, 0.3);
    assert.ok(people.has(withVoters[0]!.voters!.fresh()));
  });
});

describe("demo rosters", () => {
  test("the same rows every time, valid for the import, split under the byte limit with a header each", () => {
    const scheme = rosterScheme("school-0007", 1_000);
    const chunks = rosterCsvChunks("school-0007", scheme, 8_000);
    assert.deepEqual(rosterCsvChunks("school-0007", scheme, 8_000), chunks, "deterministic");
    assert.ok(chunks.length > 3, `${chunks.length} chunks`);
    const rows: Record<string, string>[] = [];
    for (const chunk of chunks) {
      assert.ok(Buffer.byteLength(chunk) <= 8_000, `${Buffer.byteLength(chunk)} bytes`);
      assert.ok(chunk.startsWith("id,name,groups\n"));
      rows.push(...(parse(chunk, { columns: true }) as Record<string, string>[]));
    }
    assert.equal(rows.length, 1_000);
    assert.deepEqual(
      rows.map((r) => r.id),
      Array.from({ length: 1_000 }, (_, i) => personId(scheme, i + 1)),
    );
    assert.equal(rows[0]!.id, "school-0007-000001");
    const groups = rows.map((r) => r.groups!.split(";"));
    assert.equal(groups.filter((g) => g[0] === "staff").length, 40, "4 % staff");
    for (const g of groups) for (const id of g) assert.match(id, ID_PATTERN);
    assert.deepEqual([...new Set(groups.map((g) => g[0]))].sort(), [
      "Y10",
      "Y11",
      "Y7",
      "Y8",
      "Y9",
      "staff",
    ]);
    assert.ok(
      rows.some((r) => r.name?.includes("'")),
      "a name the CSV quotes or escapes",
    );
    // Another school: other people, named otherwise.
    const other = parse(
      rosterCsvChunks("school-0008", rosterScheme("school-0008", 1_000), 1e6)[0]!,
      {
        columns: true,
      },
    ) as Record<string, string>[];
    assert.notDeepEqual(
      other.map((r) => r.name),
      rows.map((r) => r.name),
    );
  });

  test("a kiosk file from before schools is read as the default school's demo", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "tf-kiosk-file-"));
    try {
      const path = join(tmp, "kiosks.json");
      await writeFile(
        path,
        JSON.stringify({
          note: "old",
          apiUrl: "http://127.0.0.1:3000",
          updatedAt: "2026-11-01T00:00:00.000Z",
          polls: [{ id: "demo-lunch", title: "Lunch", options: [] }],
          kiosks: [{ id: "demo-kiosk-0001", name: "Kiosk 1", token: "tfk_x" }],
        }),
      );
      const file = await readKioskFile(path);
      assert.deepEqual(file?.layout, { schools: 0, people: 0 });
      assert.deepEqual(
        file?.schools.map((s) => [s.id, s.people]),
        [["default", null]],
      );
      assert.deepEqual(
        file?.polls.map((p) => [p.id, p.schoolId, p.slug, p.voters]),
        [["demo-lunch", "default", "demo-lunch", "any"]],
      );
      assert.deepEqual(
        file?.kiosks.map((k) => [k.id, k.schoolId, k.slug, k.token]),
        [["demo-kiosk-0001", "default", "demo-kiosk-0001", "tfk_x"]],
      );
      await writeFile(path, JSON.stringify({ version: 3, polls: [], kiosks: [] }));
      await assert.rejects(readKioskFile(path), /another format .*seed into another file/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
