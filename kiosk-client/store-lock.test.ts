import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { isOutboxError } from "./errors.ts";
import { openFileStore } from "./store-file.ts";

// The journal's lock is the kernel's: what a lock file says (a pid, maybe another live
// process's) decides nothing, and of two processes starting at once exactly one writes.

const CHILD = join(REPO_ROOT, "test-support", "journal-lock-child.ts");

/**
 * A journal-lock child (test-support/journal-lock-child.ts), waiting for its go line;
 * `said` resolves with its one line of outcome, `exited` once it is gone.
 */
function lockChild(journal: string): {
  child: ChildProcess;
  said: Promise<string>;
  exited: Promise<void>;
} {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, LOCK_JOURNAL: journal, LOCK_COUNT: "60" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  const said = new Promise<string>((resolve) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim());
    });
  });
  const exited = once(child, "exit").then(([code]) => assert.equal(code, 0, out));
  return { child, said, exited };
}

describe("the outbox journal's lock", () => {
  let dir: string;
  let n = 0;
  const journal = () => join(dir, `journal-${++n}.jsonl`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "outbox-lock-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a stale lock file naming a pid now used by another live process does not lock the kiosk out", async () => {
    const path = journal();
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], {
      stdio: "ignore",
    });
    try {
      // What a kill -9 (or a power cut) leaves: a lock file whose pid, after the reboot,
      // belongs to an unrelated live process.
      await writeFile(`${path}.lock`, `${other.pid}\n`);
      const store = await openFileStore(path);
      assert.equal((await readFile(`${path}.lock`, "utf8")).trim(), String(process.pid));
      await assert.rejects(openFileStore(path), (err) => isOutboxError(err, "store_locked"));
      await store.close();
      await (await openFileStore(path)).close();
    } finally {
      other.kill("SIGKILL");
    }
  });

  test("two processes opening one journal at once: exactly one gets it, the other fails with store_locked, no enqueue lost", async () => {
    for (let round = 0; round < 8; round++) {
      const path = journal();
      // A stale lock from a killed process: both see it at the same moment.
      await writeFile(`${path}.lock`, "999999999\n");
      const children = [lockChild(path), lockChild(path)];
      for (const { child } of children) child.stdin!.write("go\n");
      // Both have tried before either lets go: the winner holds the journal until told.
      const outputs = await Promise.all(children.map((c) => c.said));
      for (const { child } of children) child.stdin!.end();
      await Promise.all(children.map((c) => c.exited));
      const winners = outputs.filter((o) => o.startsWith("kept "));
      assert.equal(winners.length, 1, `round ${round}: ${outputs.join(" | ")}`);
      assert.deepEqual(
        outputs.filter((o) => !o.startsWith("kept ")),
        ["refused store_locked"],
      );
      const store = await openFileStore(path);
      assert.equal((await store.counts()).pending, Number(winners[0]!.slice("kept ".length)));
      await store.close();
    }
  });
});
