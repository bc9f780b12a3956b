import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isOutboxError } from "./errors.ts";
import { newEventId } from "./event-id.ts";
import { openFileStore } from "./store-file.ts";
import type { OutboxEntry } from "./types.ts";

// The file journal on its own: replay, torn tails, corruption, compaction, the lock.

function entry(i: number): OutboxEntry {
  return {
    eventId: newEventId(),
    pollId: "lunch",
    optionId: i % 2 === 0 ? "pizza" : "salad",
    castAt: new Date(Date.UTC(2026, 0, 1, 12, 0, i)).toISOString(),
    enqueuedAt: 1_000 + i,
  };
}

const lines = async (path: string) => (await readFile(path, "utf8")).split("\n").filter(Boolean);

describe("FileStore", () => {
  let dir: string;
  let n = 0;
  const journal = () => join(dir, `journal-${++n}.jsonl`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "outbox-file-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a reopened journal holds what it held: pending in order, refused, lastSentAt", async () => {
    const path = journal();
    const entries = [0, 1, 2, 3].map(entry);
    const a = await openFileStore(path);
    await a.add(entries);
    await a.add([entries[0]!]); // a repeat is not queued twice
    const error = { status: 422, code: "unknown_option", message: "no such option" };
    await a.settle({
      acked: [entries[1]!.eventId],
      refused: [{ entry: entries[2]!, error, refusedAt: 5 }],
      sentAt: 4_242,
    });
    await a.close();

    const b = await openFileStore(path);
    const pending = await b.pending(10);
    assert.deepEqual(
      pending.map((e) => e.eventId),
      [entries[0]!.eventId, entries[3]!.eventId],
    );
    assert.deepEqual(pending[0], entries[0]);
    assert.deepEqual(await b.refused(), [{ entry: entries[2]!, error, refusedAt: 5 }]);
    assert.deepEqual(await b.counts(), {
      pending: 2,
      refused: 1,
      oldestPendingAt: entries[0]!.enqueuedAt,
      lastSentAt: 4_242,
    });
    await b.close();
  });

  test("a torn last line (a crash in mid-write) is cut off, and appends go on after it", async () => {
    const path = journal();
    const entries = [0, 1].map(entry);
    const a = await openFileStore(path);
    await a.add(entries);
    await a.close();
    await appendFile(path, '{"t":"enq","e":{"eventId":"0193');

    const b = await openFileStore(path);
    assert.deepEqual(
      (await b.pending(10)).map((e) => e.eventId),
      entries.map((e) => e.eventId),
    );
    assert.ok((await readFile(path, "utf8")).endsWith("\n"), "the torn tail was cut off");
    const third = entry(2);
    await b.add([third]);
    await b.close();

    const c = await openFileStore(path);
    assert.equal((await c.counts()).pending, 3);
    assert.equal((await c.pending(10))[2]!.eventId, third.eventId);
    await c.close();
    assert.equal((await lines(path)).length, 3);
  });

  test("a corrupt line before the end is an error naming the line, not silently skipped", async () => {
    const path = journal();
    const a = await openFileStore(path);
    await a.add([entry(0)]);
    await a.close();
    await appendFile(path, "garbage\n");
    await appendFile(path, `${JSON.stringify({ t: "enq", e: entry(1) })}\n`);
    await assert.rejects(openFileStore(path), (err) => {
      assert.ok(isOutboxError(err, "journal_corrupt"), String(err));
      assert.match(err.message, /line 2/);
      return true;
    });
  });

  test("compaction keeps exactly the live entries, and the journal replays to the same state", async () => {
    const path = journal();
    const store = await openFileStore(path, { compactMinRecords: 10, compactDeadFraction: 0.5 });
    const entries = Array.from({ length: 20 }, (_, i) => entry(i));
    for (const e of entries) await store.add([e]); // 20 records
    assert.equal(store.journalRecords, 20);
    const error = { status: 409, code: "poll_closed", message: "closed" };
    await store.settle({
      acked: entries.slice(0, 14).map((e) => e.eventId),
      refused: [{ entry: entries[14]!, error, refusedAt: 9 }],
      sentAt: 7_777,
    });
    // 21 records, 5 pending + 1 refused + 1 meta live: more than half dead, so compacted.
    assert.equal(store.journalRecords, 7);
    assert.equal((await lines(path)).length, 7);
    await store.add([entry(99)]); // appends go to the new file
    await store.close();

    const reopened = await openFileStore(path);
    assert.deepEqual(
      (await reopened.pending(100)).map((e) => e.eventId),
      [...entries.slice(15).map((e) => e.eventId), (await reopened.pending(100))[5]!.eventId],
    );
    assert.equal((await reopened.counts()).pending, 6);
    assert.deepEqual(
      (await reopened.refused()).map((r) => r.entry.eventId),
      [entries[14]!.eventId],
    );
    assert.equal((await reopened.counts()).lastSentAt, 7_777);
    await reopened.close();
  });

  test("one writer per journal: a live owner's lock refuses, a dead owner's is taken over", async () => {
    const path = journal();
    const a = await openFileStore(path);
    await assert.rejects(openFileStore(path), (err) => isOutboxError(err, "store_locked"));
    await a.close();

    // A lock left by a process that no longer exists (kill -9 leaves its lock file behind).
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
    await writeFile(`${path}.lock`, `${dead.stdout.toString()}\n`);
    const b = await openFileStore(path);
    assert.equal((await readFile(`${path}.lock`, "utf8")).trim(), String(process.pid));
    await b.close();

    // After a reboot the new process may get the pid the lock names: not a live owner.
    await writeFile(`${path}.lock`, `${process.pid}\n`);
    const c = await openFileStore(path);
    await c.close();
  });
});
