import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { AuthorizationError, connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import request from "supertest";
import { readWriterConfig } from "../batch-writer/config.ts";
import { ensureWriterResources } from "../batch-writer/consumer.ts";
import { type NatsUsers, PrivateNatsServer, privateNatsUsers } from "../harness/nats-servers.ts";
import { eventually } from "../harness/waiting.ts";
import { migrateJetStream } from "../scripts/migration.ts";
import { createKiosk, createPoll } from "../test-support/api.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { countVotes } from "../test-support/stored-votes.ts";
import { ConfigError } from "./errors.ts";
import { Lifecycle } from "./lifecycle.ts";
import { createLogger } from "./logger.ts";
import { addNats, connectNats } from "./nats.ts";
import { devNatsPassword, type NatsRole, natsConnectAuth, readNatsAuth } from "./nats-auth.ts";

// NATS lets in only the services, each with what it needs (docs/nats/accounts.conf): a real
// nats-server runs the shipped file. Anonymous connections are refused; the API's user
// publishes votes and cannot consume them or empty the stream; the writers' user consumes
// and cannot publish a vote; the migration's user manages the streams and consumers. The
// services work end to end with their users, and still re-create what a NATS server that
// came back empty lost.

const logger = createLogger("silent");
// The names accounts.conf grants: the defaults.
const STREAM = "VOTES";
const SUBJECT = "votes.auth-poll";
const CONSUMER = "batch-writer";

/** Refused by the server's permissions: not a timeout or any other failure. */
const denied = (operation: Promise<unknown>) =>
  assert.rejects(operation, /Permissions Violation for Publish/);

describe("readNatsAuth", () => {
  test("each role has its user and a development password, refused in production", () => {
    const api = readNatsAuth({}, "api");
    assert.equal(api.user, "ingest-api");
    assert.equal(api.password, devNatsPassword("api"));
    assert.equal(api.passwordIsDefault, true);
    assert.equal(readNatsAuth({}, "writer").user, "batch-writer");
    assert.equal(readNatsAuth({}, "migrate").user, "migrate");
    for (const [role, variable] of [
      ["api", "NATS_API_PASSWORD"],
      ["writer", "NATS_WRITER_PASSWORD"],
      ["migrate", "NATS_MIGRATE_PASSWORD"],
    ] as const) {
      assert.throws(
        () => readNatsAuth({ NODE_ENV: "production" }, role),
        (err: unknown) => err instanceof ConfigError && err.variable === variable,
      );
      assert.throws(
        () => readNatsAuth({ NODE_ENV: "production", [variable]: devNatsPassword(role) }, role),
        (err: unknown) => err instanceof ConfigError && err.variable === variable,
      );
      const auth = readNatsAuth({ NODE_ENV: "production", [variable]: "a-real-secret" }, role);
      assert.equal(auth.password, "a-real-secret");
      assert.equal(auth.passwordIsDefault, false);
    }
    assert.equal(readNatsAuth({ NATS_API_USER: "api-2" }, "api").user, "api-2");
    assert.throws(
      () => readNatsAuth({ NATS_WRITER_PASSWORD: "short" }, "writer"),
      (err: unknown) => err instanceof ConfigError && err.variable === "NATS_WRITER_PASSWORD",
    );
    // nats-server would read it as a number and refuse accounts.conf.
    assert.throws(
      () => readNatsAuth({ NATS_WRITER_PASSWORD: "2d4f9a1c0b3e5f6a" }, "writer"),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.variable === "NATS_WRITER_PASSWORD" &&
        /start with a letter/.test(err.message),
    );
  });

  test("a password can come from a file; a missing file or both ways at once fail", () => {
    const dir = mkdtempSync(join(tmpdir(), "tf-nats-secret-"));
    try {
      const file = join(dir, "password");
      writeFileSync(file, "from-a-secret-file\n");
      const auth = readNatsAuth({ NATS_MIGRATE_PASSWORD_FILE: file }, "migrate");
      assert.equal(auth.password, "from-a-secret-file");
      assert.equal(auth.passwordIsDefault, false);
      const fails = (env: Record<string, string>, variable: string) =>
        assert.throws(
          () => readNatsAuth(env, "migrate"),
          (err: unknown) => err instanceof ConfigError && err.variable === variable,
        );
      fails({ NATS_MIGRATE_PASSWORD_FILE: join(dir, "none") }, "NATS_MIGRATE_PASSWORD_FILE");
      fails(
        { NATS_MIGRATE_PASSWORD_FILE: file, NATS_MIGRATE_PASSWORD: "another-secret" },
        "NATS_MIGRATE_PASSWORD",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("NATS with docs/nats/accounts.conf", () => {
  let users: NatsUsers;
  let server: PrivateNatsServer | undefined;
  const open: NatsConnection[] = [];

  const connectAs = async (role: NatsRole) => {
    const nc = await connect({
      servers: server!.url,
      ...natsConnectAuth(readNatsAuth(users.env, role)),
    });
    open.push(nc);
    return nc;
  };
  const manager = (nc: NatsConnection) => jetstreamManager(nc, { timeout: 2_000 });
  const messages = async () =>
    (await (await manager(await connectAs("migrate"))).streams.info(STREAM)).state.messages;
  const writerEnv = () => ({
    ...users.env,
    NATS_URL: server!.url,
    STREAM_NAME: STREAM,
    SUBJECT_PREFIX: "votes",
    CONSUMER_NAME: CONSUMER,
    LOG_LEVEL: "silent",
  });

  before(async () => {
    users = privateNatsUsers();
    server = await PrivateNatsServer.create(users);
    // The migration provisions everything, as in production.
    await migrateJetStream(
      await connectAs("migrate"),
      readWriterConfig(writerEnv(), "migrate"),
      logger,
    );
  });
  after(async () => {
    await Promise.allSettled(open.map((nc) => nc.close()));
    await server?.destroy();
  });

  test("an anonymous connection or a wrong password is refused", async () => {
    await assert.rejects(connect({ servers: server!.url }), AuthorizationError);
    await assert.rejects(
      connect({ servers: server!.url, user: "ingest-api", pass: "not-the-password" }),
      AuthorizationError,
    );
    // The services' own connect gives up at once rather than waiting for a server.
    const wrong = readNatsAuth({ NATS_API_PASSWORD: "not-the-password" }, "api");
    await assert.rejects(
      connectNats(server!.url, "wrong", wrong, logger, { firstConnectWaitMs: 30_000 }),
      AuthorizationError,
    );
  });

  test("the API's user publishes a vote and cannot consume it, nor purge or delete the stream", async () => {
    const nc = await connectAs("api");
    const ack = await jetstream(nc).publish(SUBJECT, JSON.stringify({ v: 1 }));
    assert.equal(ack.stream, STREAM);
    const jsm = await manager(nc);
    await denied(jsm.streams.delete(STREAM));
    await denied(jsm.streams.purge(STREAM));
    await denied(jsm.streams.update(STREAM, { max_msgs: 1 }));
    await denied(jsm.consumers.delete(STREAM, CONSUMER));
    await denied(
      jsm.consumers.add(STREAM, { durable_name: "thief", ack_policy: AckPolicy.Explicit }),
    );
    await denied(jsm.streams.getMessage(STREAM, { seq: ack.seq }));
    // Pulling from the writers' consumer: its info, then its next message.
    await denied(jetstream(nc, { timeout: 2_000 }).consumers.get(STREAM, CONSUMER));
    await denied(
      nc.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${CONSUMER}`, JSON.stringify({ batch: 1 }), {
        timeout: 2_000,
      }),
    );
    assert.equal(await messages(), 1, "the vote is still in the stream");
  });

  test("the writers' user consumes and acks, and cannot publish a vote or empty the stream", async () => {
    const nc = await connectAs("writer");
    await denied(jetstream(nc, { timeout: 2_000 }).publish(SUBJECT, "{}"));
    const jsm = await manager(nc);
    await denied(jsm.streams.delete(STREAM));
    await denied(jsm.streams.purge(STREAM));
    await denied(jsm.consumers.delete(STREAM, CONSUMER));
    await denied(jsm.streams.add({ name: "OTHER", subjects: ["other.>"] }));
    assert.equal(await messages(), 1);
    const consumer = await jetstream(nc).consumers.get(STREAM, CONSUMER);
    const msg = await consumer.next({ expires: 2_000 });
    assert.ok(msg, "the writer got the vote");
    assert.equal(await msg.ackAck(), true);
    assert.equal(await messages(), 0, "acked, so gone from the work queue");
    // What the MaxDeliver mover does: read a vote by sequence, delete it, and pull the
    // capture of the advisories.
    const api = jetstream(await connectAs("api"));
    const { seq } = await api.publish(SUBJECT, JSON.stringify({ v: 1 }));
    assert.ok(await jsm.streams.getMessage(STREAM, { seq }));
    assert.equal(await jsm.streams.deleteMessage(STREAM, seq, false), true);
    const capture = await jetstream(nc).consumers.get(`${STREAM}_MAXDELIVER`, CONSUMER);
    assert.equal(await capture.next({ expires: 1_000 }), null);
  });

  test("a service warns when NATS lets anyone in, or when it uses its development password", async () => {
    const warnings = async (url: string, env: Record<string, string>) => {
      const lines: string[] = [];
      const log = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
      const lifecycle = new Lifecycle(log);
      const config = { natsUrl: url, natsConnectWaitMs: 0, natsAuth: readNatsAuth(env, "api") };
      await addNats(lifecycle, config, "warn-test", log, () => {});
      await lifecycle.close(2_000);
      return lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    };
    assert.deepEqual(await warnings(server!.url, users.env), []);
    const anonymous = await PrivateNatsServer.create();
    try {
      assert.deepEqual(await warnings(anonymous.url, {}), [
        "the NATS server lets anyone in: run it with docs/nats/accounts.conf (docs/operations.md)",
      ]);
    } finally {
      await anonymous.destroy();
    }
    // A server that checks passwords and was given the development one.
    const dev = await PrivateNatsServer.create({
      ...users,
      env: { ...users.env, NATS_API_PASSWORD: devNatsPassword("api") },
    });
    try {
      assert.deepEqual(await warnings(dev.url, {}), [
        "using the development NATS password (set NATS_API_PASSWORD)",
      ]);
    } finally {
      await dev.destroy();
    }
  });

  test("the migration's user manages the streams", async () => {
    const jsm = await manager(await connectAs("migrate"));
    await jsm.streams.add({ name: "SCRATCH", subjects: ["scratch.>"] });
    await jsm.streams.delete("SCRATCH");
  });

  describe("the services with their users", () => {
    let h: IngestHarness | undefined;
    let writer: InProcessWriter | undefined;

    before(async () => {
      h = await startIngestHarness({ ...writerEnv(), LOG_LEVEL: "silent" });
      writer = await startWriterInProcess({
        ...writerEnv(),
        DATABASE_URL: h.db.url,
        WRITER_METRICS_PORT: "0",
        BATCH_LINGER_MS: "20",
      });
      await createPoll(h.app, { id: "auth-poll" });
    });
    after(async () => {
      await writer?.close();
      await h?.close();
    });

    const voteStored = async (kioskId: string) => {
      const kiosk = await createKiosk(h!.app, kioskId);
      const eventId = randomUUID();
      await eventually(
        "the API takes the vote",
        async () => {
          const res = await request(h!.app)
            .post("/v1/votes")
            .set(kiosk.auth)
            .send({ pollId: "auth-poll", optionId: "yes", eventId });
          return res.status === 202 ? true : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      await eventually(
        "the writer stores it",
        async () =>
          (await h!.db.pool.query("select 1 from votes where event_id = $1", [eventId]))
            .rowCount === 1
            ? true
            : undefined,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    };

    test("a vote through the API is stored by the writer", async () => {
      await voteStored("auth-kiosk-1");
      assert.equal(await countVotes(h!.db.pool), 1);
    });

    test("a server that came back empty gets its stream and consumers back from the services", async () => {
      await server!.restartEmpty();
      await voteStored("auth-kiosk-2");
      assert.equal(await countVotes(h!.db.pool), 2);
      // The writer re-created its consumer and the MaxDeliver capture with its own user.
      const created = await ensureWriterResources(
        await connectAs("writer"),
        readWriterConfig(writerEnv()),
        "check",
      );
      assert.deepEqual(created.created, []);
    });
  });
});
