import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { NatsConnection } from "./nats.ts";

export interface VotesStreamOptions {
  streamName: string;
  subjectPrefix: string;
  duplicateWindowMs: number;
  /** 0 = unlimited. When full, publishes are refused (the API answers 503), never dropped. */
  maxBytes: number;
  /** Copies in a JetStream cluster: 1 on a single server, 3 to survive the loss of a node. */
  replicas: number;
}

export function voteSubject(subjectPrefix: string, pollId: string): string {
  return `${subjectPrefix}.${pollId}`;
}

/**
 * Work-queue retention: a message leaves the stream only when the writer acks it after
 * its Postgres commit, so the stream holds exactly the votes not yet stored and nothing
 * ages out while a writer is down. Discard "new": a full stream refuses publishes.
 */
export function votesStreamConfig(o: VotesStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: o.streamName,
    subjects: [`${o.subjectPrefix}.*`],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(o.duplicateWindowMs),
    max_bytes: o.maxBytes > 0 ? o.maxBytes : -1,
    num_replicas: o.replicas,
  };
}

/** Creates the stream, or updates the settings that may change, idempotently. */
export async function ensureVotesStream(
  nc: NatsConnection,
  o: VotesStreamOptions,
): Promise<JetStreamManager> {
  return (await provisionVotesStream(nc, o)).jsm;
}

/**
 * ensureVotesStream that also says whether the stream had to be created: the re-provisioning
 * after a NATS server came back without its store logs what it re-created (jetstream-heal.ts).
 */
export async function provisionVotesStream(
  nc: NatsConnection,
  o: VotesStreamOptions,
): Promise<{ jsm: JetStreamManager; created: boolean }> {
  const jsm = await jetstreamManager(nc);
  const config = votesStreamConfig(o);
  try {
    const info = await jsm.streams.info(o.streamName);
    const { name: _name, storage: _storage, retention: _retention, ...changeable } = config;
    await jsm.streams.update(o.streamName, { ...info.config, ...changeable });
    return { jsm, created: false };
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound)
      throw err;
    await jsm.streams.add(config);
    return { jsm, created: true };
  }
}
