import type { Logger } from "../common/logger.ts";
import type { RedisClient } from "../common/redis.ts";
import { resultsChannel } from "../common/results-contract.ts";

export interface VersionEvent {
  pollId: string;
  version: string;
}

type Listener = (event: VersionEvent) => void;

/**
 * One Redis subscription per process, fanned out to every SSE client in memory: a
 * thousand dashboards cost one subscriber connection, not a thousand.
 */
export class ResultsEvents {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #logger: Logger;

  constructor(subscriber: RedisClient, keyPrefix: string, logger: Logger) {
    this.#subscriber = subscriber;
    this.#channel = resultsChannel(keyPrefix);
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel, (message) => {
      let event: VersionEvent;
      try {
        event = JSON.parse(message) as VersionEvent;
      } catch (err) {
        this.#logger.warn({ err }, "ignoring a malformed results announcement");
        return;
      }
      for (const listener of this.#listeners.get(event.pollId) ?? []) listener(event);
    });
  }

  /** Returns the unsubscribe function. */
  on(pollId: string, listener: Listener): () => void {
    let set = this.#listeners.get(pollId);
    if (!set) {
      set = new Set();
      this.#listeners.set(pollId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(pollId);
    };
  }

  get clientCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}
