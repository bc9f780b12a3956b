import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { killChild, killChildren, spawnNode } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { type OutboxApi, startOutboxApi } from "../test-support/outbox-api.ts";

// kill -9 a kiosk process in the middle of flushing its file outbox, start it again on
// the same journal: every vote it queued is stored exactly once, and nothing else.

const VOTES = 2_000;

describe("the Node outbox survives kill -9 mid-flush", () => {
  let api: OutboxApi;
  let dir: string;

  before(async () => {
    api = await startOutboxApi();
    dir = await mkdtemp(join(tmpdir(), "outbox-kill-"));
  });
  after(async () => {
    await killChildren();
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test(`${VOTES} votes, SIGKILL while flushing, restart: each stored exactly once`, async () => {
    const env = {
      OUTBOX_JOURNAL: join(dir, "outbox.jsonl"),
      OUTBOX_IDS: join(dir, "ids.txt"),
      OUTBOX_API_URL: api.url,
      OUTBOX_TOKEN: api.kiosk.token,
      OUTBOX_MAX_BATCH: "20",
    };
    const acked = (output: string) => {
      const all = [...output.matchAll(/^acked (\d+)$/gm)];
      return all.length === 0 ? 0 : Number(all.at(-1)![1]);
    };

    const first = spawnNode("test-support/outbox-child.ts", [], {
      ...env,
      OUTBOX_COUNT: String(VOTES),
    });
    await eventually(
      "the child enqueued its votes and sent a fifth of them",
      () => acked(first.output()) >= VOTES / 5 || first.process.exitCode !== null,
      { timeoutMs: 120_000 },
    );
    await killChild(first); // SIGKILL
    assert.match(first.output(), new RegExp(`^enqueued ${VOTES}$`, "m"));
    assert.doesNotMatch(first.output(), /^done$/m, "killed before it finished");
    const ackedBefore = acked(first.output());
    assert.ok(ackedBefore < VOTES, `only ${ackedBefore} acked before the kill`);

    const second = spawnNode("test-support/outbox-child.ts", [], env);
    const exit = await second.exited;
    assert.equal(exit.code, 0, second.output());
    assert.match(second.output(), /^done$/m);

    const ids = new Set((await readFile(env.OUTBOX_IDS, "utf8")).split("\n").filter(Boolean));
    assert.equal(ids.size, VOTES);
    await api.storedCount(VOTES);
    const stored = await api.stored();
    assert.equal(stored.rows, VOTES, "each vote stored once, nothing else");
    assert.deepEqual(stored.ids, ids);
  });
});
