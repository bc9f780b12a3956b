import { StoreState } from "./store-state.ts";
import type { OutboxEntry, OutboxStore, RefusedEntry, Settlement, StoreCounts } from "./types.ts";

/**
 * An OutboxStore in memory: NOT durable (a crash loses the queue). For load simulations
 * and tests of the sender, where the process's life is the queue's life. Browser-safe.
 */
export class MemoryStore implements OutboxStore {
  readonly #state = new StoreState();

  async add(entries: OutboxEntry[]): Promise<void> {
    for (const e of this.#state.fresh(entries)) this.#state.apply({ t: "enq", e });
  }

  async pending(limit: number): Promise<OutboxEntry[]> {
    return this.#state.pending(limit);
  }

  async settle(settlement: Settlement): Promise<void> {
    this.#state.apply(this.#state.settleRecord(settlement));
  }

  async counts(): Promise<StoreCounts> {
    return this.#state.counts();
  }

  async refused(): Promise<RefusedEntry[]> {
    return [...this.#state.refusedById.values()];
  }

  async persisted(): Promise<boolean | undefined> {
    return undefined;
  }

  async close(): Promise<void> {}
}
