import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import request from "supertest";
import { resultsChannel, resultsKeys } from "../common/results-contract.ts";
import { PrivateRedis } from "../harness/private-redis.ts";
import { eventually } from "../harness/waiting.ts";
import { voterClaimsKeys } from "../ingest-api/votes/voter-guard.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { metricSample } from "../test-support/metrics-scrape.ts";
import { testNames } from "../test-support/names.ts";
import { startExporter } from "../test-support/prometheus-server.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";
import { type RedisUserName, readAclSettings, renderAclFile } from "./redis-users/acl.ts";

// The ACL file `npm run redis-users` renders, loaded by a private redis-server: each
// service runs its real paths as its own user, and the read-only `results` user reads the
// results contract and nothing else.

const PASSWORDS = {
  REDIS_API_PASSWORD: "api-password-for-tests-0001",
  REDIS_PUBLISHER_PASSWORD: "publisher-password-for-tests-0001",
  REDIS_RESULTS_PASSWORD: "results-password-for-tests-0001",
  REDIS_ADMIN_PASSWORD: "admin-password-for-tests-0001",
  REDIS_METRICS_PASSWORD: "metrics-password-for-tests-0001",
};

/** The first reply line to one inline command sent without authenticating. */
function rawReply(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, "127.0.0.1", () => socket.write(`${command}\r\n`));
    socket.setTimeout(5_000, () => socket.destroy(new Error("no reply")));
    socket.once("error", reject);
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().split("\r\n")[0]!);
    });
  });
}

describe("Redis users from the rendered ACL file", () => {
  const names = testNames();
  const settings = readAclSettings({ ...PASSWORDS, REDIS_KEY_PREFIX: names.redisKeyPrefix });
  const dir = mkdtempSync(join(tmpdir(), "tf-redis-acl-"));
  let redis: PrivateRedis;
  let p: ResultsPipeline;
  const url = (user: RedisUserName | "admin" | "metrics") => {
    const password =
      user === "admin"
        ? settings.adminPassword
        : user === "metrics"
          ? settings.metricsPassword
          : settings.passwords[user as RedisUserName];
    return `redis://${user}:${password}@127.0.0.1:${redis.port}`;
  };
  const clients: { close(): Promise<void>; destroy(): void }[] = [];
  const connect = async (user: RedisUserName | "admin" | "metrics") => {
    const client = createClient({ url: url(user) });
    client.on("error", () => {});
    clients.push(client);
    await client.connect();
    return client;
  };
  const keys = resultsKeys(names.redisKeyPrefix, "acl");

  before(async () => {
    const file = join(dir, "users.acl");
    writeFileSync(file, renderAclFile(settings));
    redis = await PrivateRedis.create(["--aclfile", file]);
    p = await startResultsPipeline(
      {
        REDIS_URL: url("ingest-api"),
        // The limiter's Lua script and the kiosk status writes run against Redis too.
        RATE_LIMIT_KIOSK_VOTES_PER_S: "1000",
        RATE_LIMIT_KIOSK_BATCHES_PER_S: "1000",
        RATE_LIMIT_RESULTS_PER_S: "1000",
        // A minute's window: its counter outlives the slow steps of the test (the
        // per-second ones may expire before they are looked at on a loaded machine).
        RATE_LIMIT_AUTH_FAILURES_PER_MIN: "1000",
        KIOSK_STATUS_WRITE_MS: "100",
      },
      { names, testRedisUrl: url("admin"), publisherRedisUrl: url("result-publisher") },
    );
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => c.destroy())));
    await p?.close();
    await redis?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the default user is off: a client that does not authenticate can do nothing", async () => {
    // A raw connection: a client library would retry its refused handshake forever.
    assert.match(await rawReply(redis.port, "PING"), /^-NOAUTH/);
    assert.match(await rawReply(redis.port, `GET ${keys.json}`), /^-NOAUTH/);
    assert.match(await rawReply(redis.port, "AUTH default x"), /^-WRONGPASS/);
  });

  test("the API and the publisher do their jobs as their own users, and Redis refuses them nothing", async () => {
    const { h, kiosk } = p;
    const poll = {
      title: "ACL",
      options: [
        { id: "yes", label: "Yes" },
        { id: "no", label: "No" },
      ],
    };
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "acl", ...poll })
      .expect(201);
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "once", ...poll, oneVotePerVoter: true })
      .expect(201);
    await p.vote("acl", "yes");
    await p.voteBatch([{ pollId: "acl", optionId: "no" }]);
    // One vote per voter: the claim script, then a refusal of the second vote.
    const ballot = { pollId: "once", optionId: "yes", voterId: "voter-1" };
    await request(h.app).post("/v1/votes").set(kiosk.auth).send(ballot).expect(202);
    await request(h.app).post("/v1/votes").set(kiosk.auth).send(ballot).expect(409);
    await request(h.app)
      .post("/v1/kiosk/heartbeat")
      .set(kiosk.auth)
      .send({ pending: 0 })
      .expect(204);
    await p.stored(3);
    await p.publisher.run();
    const results = await request(h.app).get("/v1/polls/acl/results").expect(200);
    assert.equal(results.body.totalVotes, 2);
    await request(h.app).get("/v1/polls/acl/results.png"); // a chart demand, a chart job
    await p.publisher.chartsDrawn();
    await eventually("the kiosk's status is in Redis", async () => {
      const listed = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
      return listed.body.kiosks[0]?.status ? true : undefined;
    });
    // An attendance register's check-in sets the person's state (a script with EXPIREAT),
    // which the kiosk reads back (a script); the API's start rebuilt it (scripts, a lock).
    await request(h.app)
      .put("/v1/schools/default/people/P-1")
      .set(ADMIN)
      .send({ name: "Ada" })
      .expect(201);
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "door", kind: "attendance", title: "Door" })
      .expect(201);
    await eventually("the API knows the person", () => h.people.has("default", "P-1"));
    await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "door", optionId: "in", voterId: "P-1" })
      .expect(202);
    const state = await request(h.app)
      .get("/v1/kiosk/people/P-1/attendance")
      .set(kiosk.auth)
      .expect(200);
    assert.equal(state.body.state, "in");
    // Archiving forgets the poll's voter entries (SCAN, UNLINK); deleting another poll
    // makes the publisher remove its results.
    await request(h.app).patch("/v1/polls/once").set(ADMIN).send({ archived: true }).expect(200);
    await request(h.app).patch("/v1/polls/acl").set(ADMIN).send({ archived: true }).expect(200);
    await request(h.app).delete("/v1/polls/acl").set(ADMIN).expect(200);
    await p.publisher.run();
    assert.equal(
      await h.redis.exists(keys.json),
      0,
      "the publisher removed a deleted poll's results",
    );
    await request(h.app).get("/v1/kiosks").set({ Authorization: "Bearer wrong" }).expect(401);
    const admin = await connect("admin");
    const limits = await admin.keys(`${names.redisKeyPrefix}ratelimit:*`);
    assert.ok(limits.length > 0, "the rate limits counted in Redis, not in memory");
    // Every refusal is in ACL LOG (best-effort writes swallow theirs): none for a service.
    const log = (await admin.sendCommand(["ACL", "LOG"])) as { username: string }[];
    const services = ["ingest-api", "result-publisher"];
    assert.deepEqual(
      log.filter((entry) => services.includes(entry.username)),
      [],
      "no command of a service was refused",
    );
  });

  test("the results user reads the results and the channel, and nothing else", async () => {
    await request(p.h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "read", title: "Read", options: [{ id: "a", label: "A" }] })
      .expect(201);
    await p.publisher.run();
    const read = resultsKeys(names.redisKeyPrefix, "read");
    const reader = await connect("results");
    assert.equal(JSON.parse((await reader.get(read.json)) ?? "{}").pollId, "read");
    assert.deepEqual((await reader.mGet([read.version])).length, 1);
    const subscriber = await connect("results");
    const announced = new Promise<string>((resolve) => {
      void subscriber.subscribe(resultsChannel(names.redisKeyPrefix), resolve);
    });
    await eventually("the subscription is registered", async () => {
      const admin = await connect("admin");
      const n = (await admin.pubSubNumSub(resultsChannel(names.redisKeyPrefix)))[
        resultsChannel(names.redisKeyPrefix)
      ];
      return n !== undefined && n >= 2 ? true : undefined; // the API's and this one
    });
    // This poll's vote stored (the earlier test's check-in may still be on its way: count
    // only this poll's).
    await p.vote("read", "a");
    await eventually("the vote of read stored", async () => {
      const { rows } = await p.h.db.pool.query<{ n: number }>(
        "select count(*)::int as n from votes where poll_id = 'read'",
      );
      return rows[0]!.n === 1 ? true : undefined;
    });
    await p.publisher.run();
    assert.equal(JSON.parse(await announced).pollId, "read");

    const refused = /NOPERM/;
    await assert.rejects(reader.set(read.json, "{}"), refused);
    await assert.rejects(reader.del(read.json), refused);
    await assert.rejects(reader.sendCommand(["FLUSHALL"]), refused);
    await assert.rejects(reader.sendCommand(["CONFIG", "GET", "*"]), refused);
    await assert.rejects(reader.sendCommand(["KEYS", "*"]), refused);
    await assert.rejects(reader.sendCommand(["SCAN", "0"]), refused);
    const claims = voterClaimsKeys(names.redisKeyPrefix);
    await assert.rejects(reader.get(claims.restored), refused);
    await assert.rejects(reader.hGetAll(`${names.redisKeyPrefix}voters:once:0`), refused);
    await assert.rejects(reader.hGetAll(`${names.redisKeyPrefix}kiosks:status`), refused);
    await assert.rejects(reader.publish(resultsChannel(names.redisKeyPrefix), "{}"), refused);
    await assert.rejects(
      reader.subscribe(`${names.redisKeyPrefix}other`, () => {}),
      refused,
    );
  });

  test("the services' users cannot administer Redis or reach each other's keys", async () => {
    const api = await connect("ingest-api");
    const publisher = await connect("result-publisher");
    for (const client of [api, publisher]) {
      await assert.rejects(client.sendCommand(["FLUSHALL"]), /NOPERM/);
      await assert.rejects(client.sendCommand(["CONFIG", "SET", "save", "60 1"]), /NOPERM/);
      await assert.rejects(client.sendCommand(["ACL", "LIST"]), /NOPERM/);
      await assert.rejects(client.get("some-other-app:key"), /NOPERM/);
    }
    const read = resultsKeys(names.redisKeyPrefix, "read");
    await assert.rejects(api.set(read.json, "{}"), /NOPERM/, "the API only reads results");
    await assert.rejects(
      publisher.get(voterClaimsKeys(names.redisKeyPrefix).restored),
      /NOPERM/,
      "the publisher never reads voter claims",
    );
  });

  test("the metrics user reads the server's state and no data; redis_exporter scrapes as it", async () => {
    const metrics = await connect("metrics");
    assert.match(await metrics.info(), /used_memory:/);
    assert.ok(await metrics.configGet("maxmemory"));
    const read = resultsKeys(names.redisKeyPrefix, "read");
    for (const denied of [
      metrics.get(read.json),
      metrics.sendCommand(["KEYS", "*"]),
      metrics.sendCommand(["CONFIG", "SET", "save", "60 1"]),
      metrics.sendCommand(["FLUSHALL"]),
      metrics.subscribe(resultsChannel(names.redisKeyPrefix), () => {}),
    ])
      await assert.rejects(denied, /NOPERM/);
    // Debian's exporter, as docker-compose.observability.yml runs its image: every command
    // of its scrape is allowed (Redis's ACL LOG records any it refused).
    const exporterMissing = (process.env.PATH ?? "")
      .split(":")
      .every((dir) => !existsSync(join(dir, "prometheus-redis-exporter")));
    if (exporterMissing) return;
    const admin = await connect("admin");
    await admin.sendCommand(["ACL", "LOG", "RESET"]);
    const exporter = await startExporter(
      "prometheus-redis-exporter",
      (port) => [
        `-web.listen-address=127.0.0.1:${port}`,
        `-redis.addr=redis://127.0.0.1:${redis.port}`,
      ],
      { REDIS_USER: "metrics", REDIS_PASSWORD: settings.metricsPassword! },
    );
    try {
      const text = await (await fetch(`http://${exporter.target}/metrics`)).text();
      assert.equal(metricSample(text, "redis_up"), 1);
      assert.ok((metricSample(text, "redis_memory_used_bytes") ?? 0) > 0);
    } finally {
      await exporter.close();
    }
    const log = (await admin.sendCommand(["ACL", "LOG"])) as unknown[];
    assert.deepEqual(log, [], "nothing the exporter sent was refused");
  });
});
