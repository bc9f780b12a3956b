import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createKiosk, createPoll, type TestKiosk } from "./api.ts";
import { type IngestHarness, startIngestHarness } from "./ingest.ts";
import { type InProcessWriter, startWriterInProcess, waitUntil, writerEnv } from "./writer.ts";

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

export async function listen(harness: IngestHarness): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = harness.app.listen(0, "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startOutboxApi(env: Record<string, string> = {}): Promise<OutboxApi> {
  const harness = await startIngestHarness(env);
  const { server, url } = await listen(harness);
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
    url,
    kiosk,
    writer,
    stored,
    storedCount: (count, kioskId) =>
      waitUntil(`${count} votes stored`, async () => (await stored(kioskId)).rows >= count, 60_000),
    async close() {
      await writer.close().catch(() => {});
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await harness.close();
    },
  };
}
