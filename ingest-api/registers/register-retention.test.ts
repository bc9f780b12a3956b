import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { createLogger } from "../../common/logger.ts";
import { registerKeys } from "../../common/register-contract.ts";
import { eventually } from "../../harness/waiting.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { RegisterPublisher } from "../../result-publisher/register-publisher.ts";
import { expectError } from "../../test-support/api.ts";
import { startWriterInProcess } from "../../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { pipelineWriterEnv } from "../../test-support/service-env.ts";

// A lesson register deleted by REGISTER_RETENTION_DAYS (migration 054) is gone as an
// admin's delete leaves it: an idle writer started with the setting deletes and purges it,
// the API answers 404, its document is removed from Redis by the next publisher run and not
// published again, nor one it still owed (not published yet, over its budget). The
// publisher here keeps 60 days
// (REGISTER_DAYS_KEPT) and the writer 30: a retention shorter than the kept window is
// allowed, and the register's document goes with it.

const DAY_MS = 86_400_000;
const logger = createLogger("silent");

describe("a register past REGISTER_RETENTION_DAYS is gone from the API and from Redis", () => {
  let h: IngestHarness;
  let publisher: RegisterPublisher;
  const ids: Record<"old" | "older" | "fresh", string> = { old: "", older: "", fresh: "" };

  async function createRegister(id: string, endsAtMs: number): Promise<string> {
    const res = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id,
        kind: "register",
        title: id,
        groupId: "7a",
        startsAt: new Date(endsAtMs - 45 * 60_000).toISOString(),
        endsAt: new Date(endsAtMs).toISOString(),
      });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  }

  before(async () => {
    h = await startIngestHarness();
    const now = Date.now();
    ids.old = await createRegister("old", now - 40 * DAY_MS);
    ids.older = await createRegister("older", now - 50 * DAY_MS);
    ids.fresh = await createRegister("fresh", now - DAY_MS);
    publisher = new RegisterPublisher({
      pool: h.db.pool,
      redis: h.redis,
      keyPrefix: h.names.redisKeyPrefix,
      daysKept: 60,
      // Nearest to now first: the older register is owed to the next run.
      maxDocumentsPerRun: 2,
      completionGraceMs: 600_000,
      logger,
      metrics: createPublisherMetrics(),
    });
    const first = await publisher.run();
    assert.deepEqual(first.published.sort(), [ids.fresh, ids.old].sort());
    assert.equal(first.owed, 1);
  });
  after(() => h?.close());

  test("404 poll_not_found once deleted; its document removed and never published again", async () => {
    const read = (id: string) => request(h.app).get(`/v1/registers/${id}`).set(ADMIN);
    assert.equal((await read(ids.old)).status, 200);

    const writer = await startWriterInProcess({
      ...pipelineWriterEnv(h.names, h.db.url, h.config.natsUrl),
      REGISTER_RETENTION_DAYS: "30",
    });
    try {
      await eventually("the idle writer deleted and purged the old registers", async () => {
        const { rows } = await h.db.pool.query<{ polls: number; purges: number }>(
          `select (select count(*)::int from polls where id = any($1)) as polls,
                  (select count(*)::int from poll_purges) as purges`,
          [[ids.old, ids.older]],
        );
        return rows[0]!.polls === 0 && rows[0]!.purges === 0 ? true : undefined;
      });
      assert.equal((await writer.metrics.registersExpired.get()).values[0]?.value, 2);
    } finally {
      await writer.close();
    }

    await eventually("the API forgot the deleted register", async () => {
      const res = await read(ids.old);
      return res.status === 404 ? res : undefined;
    }).then((res) => expectError(res, 404, "poll_not_found"));
    assert.equal((await read(ids.fresh)).status, 200, "the younger register stays");

    const removed = await publisher.run();
    assert.deepEqual(removed.removed.sort(), [ids.old, ids.older].sort(), "the owed one too");
    assert.equal(removed.owed, 0);
    assert.deepEqual(removed.published, []);
    const keys = registerKeys(h.names.redisKeyPrefix, ids.old);
    assert.equal(await h.redis.exists([keys.json, keys.version]), 0, "its document is removed");

    const next = await publisher.run();
    assert.deepEqual(next.published, [], "not published again");
    assert.equal(await h.redis.exists([keys.json, keys.version]), 0);
    const owedKeys = registerKeys(h.names.redisKeyPrefix, ids.older);
    assert.equal(await h.redis.exists([owedKeys.json, owedKeys.version]), 0, "never published");
    assert.notEqual(await h.redis.get(registerKeys(h.names.redisKeyPrefix, ids.fresh).json), null);
  });
});
