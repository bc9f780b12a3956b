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
import { millis, nanos } from "@nats-io/transport-node";
import {
  diffSettings,
  type ProvisionMode,
  type ProvisionResult,
  type Settings,
  type SettingValue,
} from "./jetstream-settings.ts";
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

/**
 * The settings of the stream that may change after it was created (name, storage and
 * retention cannot), as compared for drift: durations in milliseconds, like their variables.
 */
function changeableSettings(c: Partial<StreamConfig>): Record<string, SettingValue> {
  return {
    subjects: c.subjects,
    discard: c.discard,
    duplicate_window: c.duplicate_window === undefined ? undefined : millis(c.duplicate_window),
    max_bytes: c.max_bytes,
    num_replicas: c.num_replicas,
  };
}

const VARIABLES: Readonly<Record<string, string | undefined>> = {
  subjects: "SUBJECT_PREFIX",
  discard: undefined,
  duplicate_window: "DUPLICATE_WINDOW_MS",
  max_bytes: "STREAM_MAX_BYTES",
  num_replicas: "STREAM_REPLICAS",
};

function configuredSettings(o: VotesStreamOptions): Settings {
  return Object.fromEntries(
    Object.entries(changeableSettings(votesStreamConfig(o))).map(([setting, value]) => [
      setting,
      { variable: VARIABLES[setting], value },
    ]),
  );
}

/** Creates the stream, or updates the settings that may change, idempotently (benchmarks). */
export async function ensureVotesStream(
  nc: NatsConnection,
  o: VotesStreamOptions,
): Promise<JetStreamManager> {
  return (await provisionVotesStream(nc, o, "apply")).jsm;
}

/**
 * Creates the stream when it is missing, in either mode: the migration provisions it, and a
 * service re-creates it after a NATS server came back without its store (jetstream-heal.ts).
 * An existing stream whose settings differ is updated under "apply" (the migration, their one
 * owner) and only reported under "check" (a service at start).
 */
export async function provisionVotesStream(
  nc: NatsConnection,
  o: VotesStreamOptions,
  mode: ProvisionMode,
): Promise<ProvisionResult & { jsm: JetStreamManager }> {
  const jsm = await jetstreamManager(nc);
  const config = votesStreamConfig(o);
  const resource = `stream ${o.streamName}`;
  let actual: StreamConfig;
  try {
    actual = (await jsm.streams.info(o.streamName)).config;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound)
      throw err;
    await jsm.streams.add(config);
    return { jsm, created: [resource], drift: [] };
  }
  const drift = diffSettings(resource, configuredSettings(o), changeableSettings(actual));
  if (mode === "apply" && drift.length > 0) {
    const { name: _name, storage: _storage, retention: _retention, ...changeable } = config;
    await jsm.streams.update(o.streamName, { ...actual, ...changeable });
  }
  return { jsm, created: [], drift };
}
