import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/**
 * Deletes this test file's streams (missing ones are fine), each with the max-delivery
 * advisory stream a writer makes beside it (`<name>_MAXDELIVER`): a test whose writer ran
 * left that one in the shared NATS otherwise.
 */
export async function deleteStreams(natsUrl: string, names: string[]): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const all = names.flatMap((n) => (n.endsWith("_MAXDELIVER") ? [n] : [n, `${n}_MAXDELIVER`]));
    for (const name of new Set(all)) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** How many messages a stream holds right now. */
export async function streamMessageCount(natsUrl: string, name: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(name)).state.messages;
  } finally {
    await nc.close();
  }
}

export interface StreamMessage {
  seq: number;
  subject: string;
  /** The Nats-Msg-Id header (JetStream's deduplication key). */
  msgId: string | undefined;
  body: unknown;
}

/** Every message a stream holds right now, oldest first. */
export async function streamMessages(natsUrl: string, name: string): Promise<StreamMessage[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(name);
    const messages: StreamMessage[] = [];
    if (state.messages === 0) return messages;
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
      if (!m) continue;
      messages.push({
        seq: m.seq,
        subject: m.subject,
        msgId: m.header?.get("Nats-Msg-Id") || undefined,
        body: m.json(),
      });
    }
    return messages;
  } finally {
    await nc.close();
  }
}

/** Runs `work` with a JetStream manager on its own short-lived connection. */
export async function withJetStream<T>(
  natsUrl: string,
  work: (jsm: JetStreamManager, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: natsUrl });
  try {
    return await work(await jetstreamManager(nc), nc);
  } finally {
    await nc.close();
  }
}
