import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { millis, nanos } from "@nats-io/transport-node";
import { votesStreamOptions } from "../common/config.ts";
import { isStreamOrConsumerNotFound } from "../common/jetstream-codes.ts";
import {
  diffSettings,
  type ProvisionMode,
  type ProvisionResult,
  type SettingDrift,
  type Settings,
  type SettingValue,
} from "../common/jetstream-settings.ts";
import type { NatsConnection } from "../common/nats.ts";
import { provisionVotesStream } from "../common/votes-stream.ts";
import type { WriterConfig } from "./config.ts";

const CONSUMER_DESCRIPTION = "tallyflow batch writers";

/** The consumer's settings that may change, as compared for drift (durations in ms). */
function consumerSettings(c: WriterConfig): Settings {
  return {
    // With a back-off list JetStream takes its first entry as the AckWait (nats-server sets
    // AckWait = BackOff[0]), so that is the value the consumer reports.
    ack_wait: {
      variable: c.redeliveryBackoffMs.length > 0 ? "REDELIVERY_BACKOFF_MS" : "ACK_WAIT_MS",
      value: c.redeliveryBackoffMs[0] ?? c.ackWaitMs,
    },
    max_deliver: { variable: "MAX_DELIVER", value: c.maxDeliver },
    max_ack_pending: { variable: "MAX_ACK_PENDING", value: c.maxAckPending },
    max_batch: { variable: "BATCH_MAX_MESSAGES", value: c.batchMaxMessages },
    backoff: { variable: "REDELIVERY_BACKOFF_MS", value: c.redeliveryBackoffMs },
    description: { value: CONSUMER_DESCRIPTION },
  };
}

function actualConsumerSettings(c: ConsumerConfig): Record<string, SettingValue> {
  return {
    ack_wait: c.ack_wait === undefined ? undefined : millis(c.ack_wait),
    max_deliver: c.max_deliver,
    max_ack_pending: c.max_ack_pending,
    max_batch: c.max_batch,
    backoff: c.backoff?.map((ns) => millis(ns)),
    description: c.description,
  };
}

/**
 * The durable pull consumer every writer process shares (competing consumers). Explicit
 * acks; AckWait long enough for a batch (the writer also extends it with `working()`
 * while it retries); MaxDeliver and the back-off bound how often a message is retried
 * after writers died holding it. Created when missing; an existing one is updated under
 * "apply" (the migration) and only compared under "check" (a writer at start).
 */
export async function ensureWriterConsumer(
  jsm: JetStreamManager,
  c: WriterConfig,
  mode: ProvisionMode,
): Promise<ProvisionResult> {
  const resource = `consumer ${c.streamName}/${c.consumerName}`;
  const changeable = {
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: c.maxDeliver,
    max_ack_pending: c.maxAckPending,
    max_batch: c.batchMaxMessages,
    backoff: c.redeliveryBackoffMs.map((ms) => nanos(ms)),
    description: CONSUMER_DESCRIPTION,
  };
  let actual: ConsumerConfig;
  try {
    actual = (await jsm.consumers.info(c.streamName, c.consumerName)).config;
  } catch (err) {
    if (!isStreamOrConsumerNotFound(err)) throw err;
    await jsm.consumers.add(c.streamName, {
      ...changeable,
      durable_name: c.consumerName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    return { created: [`consumer ${c.consumerName}`], drift: [] };
  }
  const drift = diffSettings(resource, consumerSettings(c), actualConsumerSettings(actual));
  if (mode === "apply" && drift.length > 0)
    await jsm.consumers.update(c.streamName, c.consumerName, changeable);
  return { created: [], drift };
}

export function deadLetterStreamName(c: WriterConfig): string {
  return `${c.streamName}_MAXDELIVER`;
}

export function maxDeliveriesSubject(c: WriterConfig): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.streamName}.${c.consumerName}`;
}

/**
 * Everything the writers use in JetStream: the votes stream, their durable consumer, the
 * MaxDeliver capture stream and its consumer. The migration runs it with "apply" (the one
 * place that sets their settings); a writer runs it with "check" at start and whenever any
 * of it is missing. `created` names what had to be created (empty when all of it was there).
 */
export async function ensureWriterResources(
  nc: NatsConnection,
  c: WriterConfig,
  mode: ProvisionMode,
): Promise<ProvisionResult & { jsm: JetStreamManager }> {
  const stream = await provisionVotesStream(nc, votesStreamOptions(c), mode);
  const consumer = await ensureWriterConsumer(stream.jsm, c, mode);
  const capture = await ensureMaxDeliveriesStream(stream.jsm, c, mode);
  const created = [...stream.created, ...consumer.created, ...capture.created];
  const drift = [...stream.drift, ...consumer.drift, ...capture.drift];
  return { jsm: stream.jsm, created, drift };
}

/**
 * JetStream announces a message that reached MaxDeliver only as a core-NATS advisory,
 * which nobody may be listening to at that moment. A stream captures those advisories
 * durably; the writer consumes it and moves each such vote into dead_letters.
 */
export async function ensureMaxDeliveriesStream(
  jsm: JetStreamManager,
  c: WriterConfig,
  mode: ProvisionMode,
): Promise<ProvisionResult> {
  const name = deadLetterStreamName(c);
  const created: string[] = [];
  let drift: SettingDrift[] = [];
  try {
    const info = await jsm.streams.info(name);
    // Moving to a cluster (STREAM_REPLICAS=3) scales the capture with the votes stream.
    drift = diffSettings(
      `stream ${name}`,
      { num_replicas: { variable: "STREAM_REPLICAS", value: c.streamReplicas } },
      { num_replicas: info.config.num_replicas },
    );
    if (mode === "apply" && drift.length > 0)
      await jsm.streams.update(name, { ...info.config, num_replicas: c.streamReplicas });
  } catch (err) {
    if (!isStreamOrConsumerNotFound(err)) throw err;
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
    if (!isStreamOrConsumerNotFound(err)) throw err;
    await jsm.consumers.add(name, {
      durable_name: c.consumerName,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(60_000),
    });
    created.push(`consumer ${name}/${c.consumerName}`);
  }
  return { created, drift };
}
