import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { votesStreamOptions } from "../common/config.ts";
import type { NatsConnection } from "../common/nats.ts";
import { provisionVotesStream } from "../common/votes-stream.ts";
import type { WriterConfig } from "./config.ts";

function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.ConsumerNotFound ||
      err.code === JetStreamApiCodes.StreamNotFound)
  );
}

/**
 * The durable pull consumer every writer process shares (competing consumers). Explicit
 * acks; AckWait long enough for a batch (the writer also extends it with `working()`
 * while it retries); MaxDeliver and the back-off bound how often a message is retried
 * after writers died holding it.
 */
export async function ensureWriterConsumer(
  jsm: JetStreamManager,
  c: WriterConfig,
): Promise<boolean> {
  const changeable = {
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: c.maxDeliver,
    max_ack_pending: c.maxAckPending,
    max_batch: c.batchMaxMessages,
    max_request_max_bytes: 0,
    backoff: c.redeliveryBackoffMs.map((ms) => nanos(ms)),
    description: "tallyflow batch writers",
  };
  try {
    await jsm.consumers.info(c.streamName, c.consumerName);
    await jsm.consumers.update(c.streamName, c.consumerName, changeable);
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(c.streamName, {
      ...changeable,
      durable_name: c.consumerName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    return true;
  }
}

export function deadLetterStreamName(c: WriterConfig): string {
  return `${c.streamName}_MAXDELIVER`;
}

export function maxDeliveriesSubject(c: WriterConfig): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.streamName}.${c.consumerName}`;
}

/**
 * Everything a writer owns in JetStream; run at start and whenever any of it is missing.
 * `created` names what had to be created (empty when all of it was there).
 */
export async function ensureWriterResources(
  nc: NatsConnection,
  c: WriterConfig,
): Promise<{ jsm: JetStreamManager; created: string[] }> {
  const { jsm, created: stream } = await provisionVotesStream(nc, votesStreamOptions(c));
  const consumer = await ensureWriterConsumer(jsm, c);
  const capture = await ensureMaxDeliveriesStream(jsm, c);
  const created = [
    ...(stream ? [`stream ${c.streamName}`] : []),
    ...(consumer ? [`consumer ${c.consumerName}`] : []),
    ...capture,
  ];
  return { jsm, created };
}

/**
 * JetStream announces a message that reached MaxDeliver only as a core-NATS advisory,
 * which nobody may be listening to at that moment. A stream captures those advisories
 * durably; the writer consumes it and moves each such vote into dead_letters.
 */
export async function ensureMaxDeliveriesStream(
  jsm: JetStreamManager,
  c: WriterConfig,
): Promise<string[]> {
  const name = deadLetterStreamName(c);
  const created: string[] = [];
  try {
    const info = await jsm.streams.info(name);
    // Moving to a cluster (STREAM_REPLICAS=3) scales the capture with the votes stream.
    if (info.config.num_replicas !== c.streamReplicas)
      await jsm.streams.update(name, { ...info.config, num_replicas: c.streamReplicas });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add({
      name,
      subjects: [maxDeliveriesSubject(c)],
      storage: StorageType.File,
      retention: RetentionPolicy.Workqueue,
      num_replicas: c.streamReplicas,
    });
    created.push(`stream ${name}`);
  }
  try {
    await jsm.consumers.info(name, c.consumerName);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(name, {
      durable_name: c.consumerName,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(60_000),
    });
    created.push(`consumer ${name}/${c.consumerName}`);
  }
  return created;
}
