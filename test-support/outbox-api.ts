import { eventually } from "../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "./api.ts";
import { listenLocally } from "./http-listen.ts";
import { type InProcessWriter, startWriterInProcess } from "./in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "./ingest.ts";
import { writerEnv } from "./service-env.ts";

// The kiosk-client tests' system: the ingest API on a real port (the outbox talks HTTP to
// it, as a kiosk does) and a batch writer in this process, so votes reach Postgres.

export interface OutboxApi {
  harness: IngestHarness;
  url: string;
  kiosk: TestKiosk;
  writer: InProcessWriter;
  /** eventIds the kiosk has in `votes`, and how many rows (a repeat would show here). */
  stored(kioskId?: string): Promise<{ ids: Set<string>; rows: number }>;
  /** Waits until the kiosk has `count` rows in `votes`. */
  storedCount(count: number, kioskId?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startOutboxApi(env: Record<string, string> = {}): Promise<OutboxApi> {
  const harness = await startIngestHarness(env);
  const server = await listenLocally(harness.app);
  const writer = await startWriterInProcess(
    writerEnv(harness.names, harness.db.url, { BATCH_LINGER_MS: "50" }),
  );
  await createPoll(harness.app, {
    id: "lunch",
    options: [
      { id: "pizza", label: "Pizza" },
      { id: "salad", label: "Salad" },
    ],
  });
  const kiosk = await createKiosk(harness.app, "hall");
  const stored = async (kioskId = kiosk.id) => {
    const { rows } = await harness.db.pool.query<{ event_id: string }>(
      "select event_id::text from votes where kiosk_id = $1",
      [kioskId],
    );
    return { ids: new Set(rows.map((r) => r.event_id)), rows: rows.length };
  };
  return {
    harness,
    url: server.url,
    kiosk,
    writer,
    stored,
    storedCount: async (count, kioskId) => {
      await eventually(`${count} votes stored`, async () => (await stored(kioskId)).rows >= count, {
        timeoutMs: 60_000,
      });
    },
    async close() {
      await writer.close().catch(() => {});
      await server.close();
      await harness.close();
    },
  };
}
