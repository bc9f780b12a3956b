import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { resultsChannel } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";

export interface Announcement {
  pollId: string;
  version: string;
}

/**
 * A subscriber to the results channel that records every announcement. settle() makes
 * "no message" checkable: it publishes a marker on the channel and waits for it, and
 * since Redis delivers one channel's messages in the order it executed the PUBLISHes,
 * everything published before the call has been received by then.
 */
export class AnnouncementLog {
  readonly messages: Announcement[] = [];
  readonly #client: RedisClient;
  readonly #publisher: RedisClient;
  readonly #channel: string;
  #markers = 0;

  private constructor(client: RedisClient, publisher: RedisClient, channel: string) {
    this.#client = client;
    this.#publisher = publisher;
    this.#channel = channel;
  }

  static async start(redisUrl: string, keyPrefix: string): Promise<AnnouncementLog> {
    const logger = createLogger("silent");
    const client = await connectRedis(redisUrl, logger, "test-announcements");
    const publisher = await connectRedis(redisUrl, logger, "test-announcements-marker");
    const log = new AnnouncementLog(client, publisher, resultsChannel(keyPrefix));
    await client.subscribe(log.#channel, (message) => {
      log.messages.push(JSON.parse(message) as Announcement);
    });
    return log;
  }

  /** Waits until every announcement published before this call has arrived. */
  async settle(): Promise<void> {
    const marker = { pollId: `__marker_${++this.#markers}`, version: "marker" };
    await this.#publisher.publish(this.#channel, JSON.stringify(marker));
    await eventually("the marker announcement arrives", async () =>
      this.messages.some((m) => m.pollId === marker.pollId) ? true : undefined,
    );
  }

  /** Announcements of real polls (markers left out), and forgets them. */
  take(): Announcement[] {
    const taken = this.messages.filter((m) => !m.pollId.startsWith("__marker_"));
    this.messages.length = 0;
    return taken;
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => {});
    await this.#publisher.close().catch(() => {});
  }
}
