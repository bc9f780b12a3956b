import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readFile, rename, truncate } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { OutboxError } from "./errors.ts";
import { JournalLock } from "./store-lock.ts";
import { type StoreRecord, StoreState } from "./store-state.ts";
import type { OutboxEntry, OutboxStore, RefusedEntry, Settlement, StoreCounts } from "./types.ts";

// The Node outbox store: an append-only journal, one JSON line per record (enqueued, a
// batch settled). A write resolves only after fdatasync, so an enqueue that resolved
// survives kill -9 and power loss. Open replays the journal; a torn last line (a crash in
// mid-write, never acknowledged to anyone) is cut off. When most records are dead, the
// live ones are rewritten to a temp file, synced, renamed over the journal and the
// directory synced. Node only: the API never serves this file to browsers.

export interface FileStoreOptions {
  /** Compact only once the journal holds this many records. @defaultValue 1000 */
  compactMinRecords?: number;
  /** Compact when more than this share of the records is dead. @defaultValue 0.5 */
  compactDeadFraction?: number;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync(); // makes the rename (a directory entry) durable
  } finally {
    await handle.close();
  }
}

/** Replays a journal; returns the state, the number of records and the good byte length. */
async function replay(
  path: string,
): Promise<{ state: StoreState; records: number; bytes: number }> {
  const state = new StoreState();
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state, records: 0, bytes: 0 };
    throw err;
  }
  const good = text.slice(0, text.lastIndexOf("\n") + 1);
  const lines = good.split("\n");
  lines.pop(); // after the last newline
  lines.forEach((line, i) => {
    let record: StoreRecord;
    try {
      record = JSON.parse(line) as StoreRecord;
    } catch (cause) {
      throw new OutboxError("journal_corrupt", `${path}: line ${i + 1} is not JSON`, { cause });
    }
    state.apply(record);
  });
  const bytes = Buffer.byteLength(good);
  if (bytes < Buffer.byteLength(text)) await truncate(path, bytes); // the torn tail
  return { state, records: lines.length, bytes };
}

interface QueuedWrite {
  text: string;
  records: StoreRecord[];
  resolve(): void;
  reject(err: unknown): void;
}

export class FileStore implements OutboxStore {
  readonly path: string;
  readonly #lock: JournalLock;
  readonly #state: StoreState;
  readonly #minRecords: number;
  readonly #deadFraction: number;
  #handle: FileHandle;
  #records: number;
  #bytes: number;
  #queue: QueuedWrite[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;
  /** The last compaction failure (disk full…), kept for diagnostics; undefined when none. */
  lastCompactionError: unknown;

  private constructor(
    path: string,
    lock: JournalLock,
    handle: FileHandle,
    replayed: { state: StoreState; records: number; bytes: number },
    options: Required<FileStoreOptions>,
  ) {
    this.path = path;
    this.#lock = lock;
    this.#handle = handle;
    this.#state = replayed.state;
    this.#records = replayed.records;
    this.#bytes = replayed.bytes;
    this.#minRecords = options.compactMinRecords;
    this.#deadFraction = options.compactDeadFraction;
  }

  /** Opens (creating) the journal at `path`, taking its lock and replaying it. */
  static async open(path: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const resolved = {
      compactMinRecords: options.compactMinRecords ?? 1000,
      compactDeadFraction: options.compactDeadFraction ?? 0.5,
    };
    if (!Number.isInteger(resolved.compactMinRecords) || resolved.compactMinRecords < 1)
      throw new OutboxError("invalid_options", "compactMinRecords must be a positive integer");
    if (!(resolved.compactDeadFraction > 0 && resolved.compactDeadFraction < 1))
      throw new OutboxError("invalid_options", "compactDeadFraction must be between 0 and 1");
    await mkdir(dirname(path), { recursive: true });
    const lock = await JournalLock.take(`${path}.lock`);
    try {
      const replayed = await replay(path);
      const handle = await open(path, "a");
      return new FileStore(path, lock, handle, replayed, resolved);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Records in the journal file, live and dead (compaction's input; for tests and metrics). */
  get journalRecords(): number {
    return this.#records;
  }

  async add(entries: OutboxEntry[]): Promise<void> {
    const fresh = this.#state.fresh(entries);
    if (fresh.length > 0) await this.#append(fresh.map((e) => ({ t: "enq", e })));
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    return this.#state.pending(limit);
  }

  async settle(settlement: Settlement): Promise<void> {
    await this.#append([this.#state.settleRecord(settlement)]);
  }

  async counts(): Promise<StoreCounts> {
    return this.#state.counts();
  }

  async refused(): Promise<RefusedEntry[]> {
    return [...this.#state.refusedById.values()];
  }

  async persisted(): Promise<boolean | undefined> {
    return undefined; // eviction protection is a browser notion; the journal is on disk
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#writing) await this.#writing;
    await this.#handle.close();
    await this.#lock.release();
  }

  /** Queues records; resolves once they are on disk. Concurrent writes share one fdatasync. */
  #append(records: StoreRecord[]): Promise<void> {
    if (this.#closed)
      return Promise.reject(new OutboxError("outbox_closed", "the store is closed"));
    return new Promise((resolve, reject) => {
      const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
      this.#queue.push({ text, records, resolve, reject });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#writing) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const writes = this.#queue.splice(0);
      const text = writes.map((w) => w.text).join("");
      try {
        await this.#handle.write(text);
        await this.#handle.datasync();
      } catch (err) {
        // Cut a partial write off, so that later appends do not follow a torn line.
        await this.#handle.truncate(this.#bytes).catch(() => {});
        for (const w of writes) w.reject(err);
        continue;
      }
      this.#bytes += Buffer.byteLength(text);
      for (const w of writes) {
        for (const r of w.records) this.#state.apply(r);
        this.#records += w.records.length;
      }
      // Before resolving, so that a write that resolved has its compaction behind it too.
      // A failed compaction loses nothing (the journal it would replace is intact): the
      // writes still succeed, and the next write tries again.
      await this.#compactIfDead().catch((err: unknown) => {
        this.lastCompactionError = err;
      });
      for (const w of writes) w.resolve();
    }
  }

  async #compactIfDead(): Promise<void> {
    const live = this.#state.pendingById.size + this.#state.refusedById.size + 1;
    if (this.#records < this.#minRecords) return;
    if ((this.#records - live) / this.#records <= this.#deadFraction) return;
    const records = this.#state.liveRecords();
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    const tmp = join(dirname(this.path), `.${basename(this.path)}.compact`);
    const out = await open(tmp, "w");
    try {
      await out.write(text);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.path);
    await syncDirectory(dirname(this.path));
    await this.#handle.close();
    this.#handle = await open(this.path, "a");
    this.#records = records.length;
    this.#bytes = Buffer.byteLength(text);
  }
}

/** Opens a file-backed store (see FileStore.open). */
export function openFileStore(path: string, options?: FileStoreOptions): Promise<FileStore> {
  return FileStore.open(path, options);
}
