import type { ServerResponse } from "node:http";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { resultsChannel } from "../../common/results-contract.ts";

export interface VersionEvent {
  pollId: string;
  version: string;
}

type Listener<E = VersionEvent> = (event: E) => void;

/**
 * How long one turn of the event loop writes streams before it lets other work run. A
 * write to a socket costs 20–40 µs (a syscall, and on loopback the receiver's side of TCP
 * too), so ten thousand streams in one go hold the loop for a third of a second, and every
 * vote waiting behind them with it; in 2 ms slices a vote waits at most a slice per step.
 */
const FAN_OUT_SLICE_MS = 2;
/** Streams written between two looks at the clock. */
const CLOCK_EVERY = 16;

/**
 * Calls `list[from…]` in time slices, skipping listeners gone from `live` meanwhile.
 * Slices run in setImmediate order, so a client still gets a poll's versions in order.
 * (The attendance announcements fan out the same way: ingest-api/attendance/.)
 */
export function fanOut<E>(
  live: Set<Listener<E>>,
  list: Listener<E>[],
  event: E,
  from: number,
): void {
  const deadline = performance.now() + FAN_OUT_SLICE_MS;
  let i = from;
  while (i < list.length) {
    const listener = list[i++]!;
    if (live.has(listener)) listener(event);
    if (i % CLOCK_EVERY === 0 && performance.now() >= deadline) break;
  }
  if (i < list.length) setImmediate(() => fanOut(live, list, event, i));
}

/**
 * One Redis subscription per process, fanned out to every SSE client in memory: a
 * thousand dashboards cost one subscriber connection, not a thousand.
 */
export class ResultsEvents {
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Told of every announcement, before the SSE clients (the results cache). */
  readonly #everyPoll: Listener[] = [];
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #logger: Logger;
  /** Open SSE responses: they never finish on their own, so shutdown ends them. */
  readonly #streams = new Set<ServerResponse>();
  #ending = false;

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
      if (typeof event?.pollId !== "string" || typeof event.version !== "string") {
        this.#logger.warn(
          { message },
          "ignoring a results announcement without pollId and version",
        );
        return;
      }
      // The cache first: its fetch of the new version is then running when a client told of
      // it asks for it, and the client waits for that fetch instead of getting the old one.
      for (const listener of this.#everyPoll) listener(event);
      const listeners = this.#listeners.get(event.pollId);
      if (listeners) fanOut(listeners, [...listeners], event, 0);
    });
  }

  /** Hears every poll's announcements, for the life of the process. */
  onEveryPoll(listener: Listener): void {
    this.#everyPoll.push(listener);
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

  /**
   * Keeps an open SSE response until it closes, for endStreams(). Returns false (having
   * ended it) when the server is shutting down already.
   */
  track(res: ServerResponse): boolean {
    if (this.#ending) {
      res.end();
      return false;
    }
    this.#streams.add(res);
    res.once("close", () => this.#streams.delete(res));
    return true;
  }

  /**
   * Ends every open SSE response, and any opened later: HTTP shutdown waits for responses
   * to finish, and these would hold it until the deadline. Clients reconnect (to another
   * instance) after their retry interval.
   */
  endStreams(): void {
    this.#ending = true;
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }

  get clientCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}
