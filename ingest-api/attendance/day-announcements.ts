import {
  type AttendanceAnnouncement,
  attendanceChannel,
} from "../../common/attendance-contract.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { fanOut } from "../results/results-events.ts";

type Listener = (event: AttendanceAnnouncement) => void;

/**
 * The attendance channel, subscribed once per process on the results' subscriber
 * connection, fanned out to the in-process copy first and then to each school's event
 * streams, in time slices as the results' (ingest-api/results/results-events.ts).
 */
export class DayAnnouncements {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #everySchool: Listener[] = [];
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #logger: Logger;

  constructor(subscriber: RedisClient, keyPrefix: string, logger: Logger) {
    this.#subscriber = subscriber;
    this.#channel = attendanceChannel(keyPrefix);
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel, (message) => {
      let event: AttendanceAnnouncement;
      try {
        event = JSON.parse(message) as AttendanceAnnouncement;
      } catch (err) {
        this.#logger.warn({ err }, "ignoring a malformed attendance announcement");
        return;
      }
      if (
        typeof event?.schoolId !== "string" ||
        typeof event.day !== "string" ||
        typeof event.version !== "string"
      ) {
        this.#logger.warn(
          { message },
          "ignoring an attendance announcement without schoolId, day and version",
        );
        return;
      }
      for (const listener of this.#everySchool) listener(event);
      const listeners = this.#listeners.get(event.schoolId);
      if (listeners) fanOut(listeners, [...listeners], event, 0);
    });
  }

  /** Hears every school's announcements, for the life of the process. */
  onEverySchool(listener: Listener): void {
    this.#everySchool.push(listener);
  }

  /** Returns the unsubscribe function. */
  on(schoolId: string, listener: Listener): () => void {
    let set = this.#listeners.get(schoolId);
    if (!set) {
      set = new Set();
      this.#listeners.set(schoolId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(schoolId);
    };
  }

  get clientCount(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}
