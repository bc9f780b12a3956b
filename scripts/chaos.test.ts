import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import { createPool } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { resultsKeys } from "../common/results-contract.ts";
import { checkAfterFault } from "./chaos/check.ts";
import { ChaosEnvironment } from "./chaos/environment.ts";
import { selectFaults } from "./chaos/faults.ts";
import { MixedLoad } from "./chaos/load.ts";
import { runSuite } from "./chaos/suite.ts";
import { resultsTable } from "./chaos/table.ts";

// The fast subset of `npm run chaos`: three faults the current code must survive, with a
// small load, against private Postgres, Redis and NATS servers (never the shared ones).
// Every vote that got a 202 must be stored exactly once, nothing else stored, the
// published totals equal to SQL, and each fault healed.

let env: ChaosEnvironment | undefined;

before(async () => {
  env = await ChaosEnvironment.create();
});

after(async () => {
  await env?.close();
});

test("kill -9 of the writer, Postgres stopped 3 s, NATS restarted with its store: no vote lost or counted twice", {
  timeout: 240_000,
}, async () => {
  const lines: string[] = [];
  const results = await runSuite(env!, {
    faults: selectFaults(["kill-writer", "postgres-stop", "nats-restart"]),
    ratePerS: 40,
    kiosks: 4,
    // A second of load before each fault is ~40 votes, enough to have votes in flight when it
    // strikes (the table's note says how many); after healing, the load goes on until a 202
    // and a new publication came back, then 1.5 s more.
    warmupMs: 1_000,
    afterMs: 1_500,
    healTimeoutMs: 45_000,
    postgresOutageMs: 3_000,
    leaderDownMs: 0,
    drainTimeoutMs: 45_000,
    resultsIntervalMs: 1_000,
    serviceLogLevel: "error",
    log: (line) => lines.push(line),
  });
  const table = resultsTable(results);
  assert.deepEqual(
    results.map((r) => r.fault),
    ["kill-writer", "postgres-stop", "nats-restart"],
  );
  for (const r of results) {
    assert.ok(r.accepted > 0, `${r.fault}: the load got no 202 at all\n${table}`);
    assert.equal(r.lost, 0, `${r.fault}: votes lost\n${table}`);
    assert.equal(r.doubleCounted, 0, `${r.fault}: votes counted twice\n${table}`);
    assert.equal(r.extra, 0, `${r.fault}: votes stored without a 202\n${table}`);
    assert.equal(r.stored, r.accepted, `${r.fault}\n${table}`);
    assert.ok(r.healed, `${r.fault}: did not heal\n${table}`);
    assert.deepEqual(r.problems, [], `${r.fault}\n${table}\n${lines.join("\n")}`);
  }
});

test("the check reports a lost vote, a vote stored without a 202, and votes counted twice in the rollups and in the publication", async () => {
  const logger = createLogger("silent", { service: "chaos-test" });
  const pool = createPool(env!.databaseUrl, logger, { max: 2 });
  const redis = await connectRedis(env!.redis.url, logger, "chaos-test");
  const nats = await env!.nats(1);
  try {
    const kiosk = "demo-kiosk-0001";
    const load = new MixedLoad({
      apiUrl: "http://127.0.0.1:9",
      kiosks: [{ id: kiosk, schoolId: "default", slug: kiosk, name: "k", token: "unused" }],
      polls: [
        {
          id: "demo-lunch",
          schoolId: "default",
          slug: "demo-lunch",
          voters: "any",
          title: "Lunch",
          timeZone: "UTC",
          opensAt: null,
          closesAt: null,
          resultsVisibility: "live",
          oneVotePerVoter: false,
          kioskShare: 1,
          options: [{ id: "pizza", label: "Pizza", weight: 1 }],
        },
      ],
      ratePerS: 1,
      batchShare: 0,
      batchSize: 1,
      resendShare: 0,
      maxInFlight: 1,
      secondVoteShare: 0,
    });
    load.startedAt = new Date();
    load.accepted.add(uuidv7()); // a 202 whose vote is nowhere
    await pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       values ($1, 'demo-lunch', 'pizza', $2, now(), now(), 0)`,
      [uuidv7(), kiosk],
    );
    // A vote of the load stored under two polls: the key (poll, eventId) would not stop it.
    const twice = uuidv7();
    load.accepted.add(twice);
    for (const [poll, option] of [
      ["demo-fair-feedback", "loved-it"],
      ["demo-checkin", "on-time"],
    ] as const)
      await pool.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
         values ($1, $2, $3, $4, now(), now(), 0)`,
        [twice, poll, option, kiosk],
      );
    // Its bucket rolled up three times over: two votes counted that are not there.
    await pool.query(
      `insert into vote_rollups (poll_id, option_id, bucket_start, count)
       values ('demo-lunch', 'pizza', date_bin('10 minutes', now(), timestamptz '2000-01-01 00:00:00+00'), 3)
       on conflict (poll_id, option_id, bucket_start) do update set count = vote_rollups.count + 3`,
    );
    // Its publication counts three votes that are not there.
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from votes where poll_id = 'demo-lunch' and option_id = 'pizza'",
    );
    const counted = rows[0]!.n + 3;
    await redis.set(
      resultsKeys("tallyflow:", "demo-lunch").json,
      JSON.stringify({
        hidden: false,
        options: [{ id: "pizza", count: counted }],
        totalVotes: counted,
      }),
    );
    load.endedAt = new Date();
    const check = await checkAfterFault(load, {
      pool,
      redis,
      redisKeyPrefix: "tallyflow:",
      natsUrl: nats.nodes[0]!.url,
      natsAuth: nats.adminAuth,
      streamName: "VOTES",
      consumerName: "batch-writer",
      kioskIds: [kiosk],
      drainTimeoutMs: 1_000,
      publishTimeoutMs: 1_000,
    });
    await load.stop(0);
    assert.equal(check.lost, 1);
    assert.equal(check.extra, 1);
    assert.equal(check.doubleCounted, 2 + 3, "2 in the rollups, 3 in the publication");
    assert.ok(check.problems.some((p) => p.startsWith("LOST")));
    assert.ok(check.problems.includes("TWICE: 1 eventIds stored under more than one poll"));
  } finally {
    await redis.close();
    await pool.end();
  }
});
