import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { tryLock, unlock } from "fs-native-extensions";
import { OutboxError } from "./errors.ts";

// One writer per journal, held by the kernel: an exclusive lock on the open lock file
// (an open-file-description lock, fcntl F_OFD_SETLK, on Linux; flock on macOS; LockFileEx
// on Windows). The kernel drops it when the process exits however it exits, so there is
// nothing stale to judge, no pid to trust (a pid written by a dead process may belong to
// another live one after a reboot), and taking it is one atomic call: of two processes
// starting at once exactly one is granted it. The file is never unlinked: a process that
// opened it and then lost it to an unlink would lock an orphaned inode while a third
// locked a new file. The pid written in it is for people reading the directory only.

export class JournalLock {
  readonly path: string;
  readonly #handle: FileHandle;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /** Takes the lock at `path` or fails with `store_locked` (held by another process, or by this one). */
  static async take(path: string): Promise<JournalLock> {
    const handle = await open(path, "a+");
    let granted: boolean;
    try {
      granted = tryLock(handle.fd);
    } catch (cause) {
      await handle.close();
      throw cause;
    }
    if (!granted) {
      const owner = (await handle.readFile("utf8").catch(() => "")).trim();
      await handle.close();
      throw new OutboxError(
        "store_locked",
        `${path} is held by another outbox${owner ? ` (process ${owner})` : ""}`,
      );
    }
    try {
      await handle.truncate(0);
      await handle.write(`${process.pid}\n`, 0);
    } catch {
      // Diagnostics only: the lock is held whatever the file says.
    }
    return new JournalLock(path, handle);
  }

  async release(): Promise<void> {
    try {
      unlock(this.#handle.fd);
    } finally {
      await this.#handle.close(); // closing alone releases it; unlock says so explicitly
    }
  }
}
