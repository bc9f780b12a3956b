/// <reference lib="dom" />
import type { OutboxEntry, OutboxStore, RefusedEntry, Settlement, StoreCounts } from "./types.ts";

// The browser outbox store: IndexedDB, one readwrite transaction per operation with
// durability "strict", resolving on `oncomplete` (the data is on disk, not just queued),
// so the page says thank you only for a vote that survives a crash or a reload. Opening it
// asks navigator.storage.persist(), so the browser does not evict the queue under storage
// pressure; status().persisted says whether it was granted.

const PENDING = "pending"; // key: an auto-increment sequence (queue order); index eventId
const REFUSED = "refused"; // key: eventId
const META = "meta"; // key: "lastSentAt"

export interface IndexedDbStoreOptions {
  /** @defaultValue "tallyflow-outbox" */
  name?: string;
  /** Ask navigator.storage.persist() at open. @defaultValue true */
  requestPersistence?: boolean;
}

function requestDone<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class IndexedDbStore implements OutboxStore {
  readonly #db: IDBDatabase;
  #persisted: boolean | undefined;

  private constructor(db: IDBDatabase, persisted: boolean | undefined) {
    this.#db = db;
    this.#persisted = persisted;
  }

  static async open(options: IndexedDbStoreOptions = {}): Promise<IndexedDbStore> {
    const request = indexedDB.open(options.name ?? "tallyflow-outbox", 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      const pending = db.createObjectStore(PENDING, { keyPath: "seq", autoIncrement: true });
      pending.createIndex("eventId", "entry.eventId", { unique: true });
      db.createObjectStore(REFUSED, { keyPath: "entry.eventId" });
      db.createObjectStore(META, { keyPath: "key" });
    };
    const db = await requestDone(request);
    let persisted: boolean | undefined;
    const storage = globalThis.navigator?.storage;
    if (storage?.persisted) {
      persisted = await storage.persisted();
      if (!persisted && options.requestPersistence !== false && storage.persist)
        persisted = await storage.persist().catch(() => false);
    }
    return new IndexedDbStore(db, persisted);
  }

  /** Runs fn in one transaction; resolves with its result once the transaction completed. */
  #transaction<T>(
    stores: string[],
    mode: IDBTransactionMode,
    fn: (tx: IDBTransaction) => Promise<T> | T,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const tx = this.#db.transaction(stores, mode, { durability: "strict" });
      let result: T;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
      Promise.resolve(fn(tx)).then(
        (value) => {
          result = value;
        },
        (err) => {
          tx.abort();
          reject(err);
        },
      );
    });
  }

  add(entries: OutboxEntry[]): Promise<void> {
    return this.#transaction([PENDING, REFUSED], "readwrite", async (tx) => {
      const pending = tx.objectStore(PENDING);
      const refused = tx.objectStore(REFUSED);
      for (const entry of entries) {
        const known =
          (await requestDone(pending.index("eventId").getKey(entry.eventId))) !== undefined ||
          (await requestDone(refused.getKey(entry.eventId))) !== undefined;
        if (!known) pending.add({ entry });
      }
    });
  }

  pending(limit: number): Promise<OutboxEntry[]> {
    return this.#transaction([PENDING], "readonly", async (tx) => {
      const rows = await requestDone(tx.objectStore(PENDING).getAll(null, limit));
      return (rows as { entry: OutboxEntry }[]).map((r) => r.entry);
    });
  }

  settle(settlement: Settlement): Promise<void> {
    return this.#transaction([PENDING, REFUSED, META], "readwrite", async (tx) => {
      const pending = tx.objectStore(PENDING);
      const byEventId = pending.index("eventId");
      const keys = await Promise.all(
        [...settlement.acked, ...settlement.refused.map((r) => r.entry.eventId)].map((id) =>
          requestDone(byEventId.getKey(id)),
        ),
      );
      for (const key of keys) if (key !== undefined) pending.delete(key);
      const refused = tx.objectStore(REFUSED);
      for (const r of settlement.refused) refused.put(r);
      tx.objectStore(META).put({ key: "lastSentAt", value: settlement.sentAt });
    });
  }

  counts(): Promise<StoreCounts> {
    return this.#transaction([PENDING, REFUSED, META], "readonly", async (tx) => {
      const pending = tx.objectStore(PENDING);
      const [count, refused, first, meta] = await Promise.all([
        requestDone(pending.count()),
        requestDone(tx.objectStore(REFUSED).count()),
        requestDone(pending.openCursor()),
        requestDone(tx.objectStore(META).get("lastSentAt")),
      ]);
      const oldest = first ? (first.value as { entry: OutboxEntry }).entry.enqueuedAt : null;
      return {
        pending: count,
        refused,
        oldestPendingAt: oldest,
        lastSentAt: (meta as { value: number } | undefined)?.value ?? null,
      };
    });
  }

  refused(): Promise<RefusedEntry[]> {
    return this.#transaction([REFUSED], "readonly", async (tx) => {
      return (await requestDone(tx.objectStore(REFUSED).getAll())) as RefusedEntry[];
    });
  }

  async persisted(): Promise<boolean | undefined> {
    const storage = globalThis.navigator?.storage;
    if (storage?.persisted) this.#persisted = await storage.persisted();
    return this.#persisted;
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** Opens the browser store (see IndexedDbStore.open). */
export function openIndexedDbStore(options?: IndexedDbStoreOptions): Promise<IndexedDbStore> {
  return IndexedDbStore.open(options);
}
