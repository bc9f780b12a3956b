import { writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { createOutbox } from "../kiosk-client/outbox.ts";
import { openFileStore } from "../kiosk-client/store-file.ts";

// A kiosk process for the kill -9 test (kiosk-client/kill-mid-flush.test.ts): a file
// outbox that enqueues OUTBOX_COUNT votes (writing their eventIds to OUTBOX_IDS once all
// are durable), then flushes them in small batches, holding each answer a moment before
// the journal records it: the window where a crash leaves sent votes in the queue.
// Prints "enqueued N", "acked N" after each batch, and "done" when the queue is empty.

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const store = await openFileStore(env("OUTBOX_JOURNAL"));
const box = createOutbox({
  store,
  apiUrl: env("OUTBOX_API_URL"),
  token: env("OUTBOX_TOKEN"),
  maxBatch: Number(env("OUTBOX_MAX_BATCH")),
  minBackoffMs: 50,
  maxBackoffMs: 500,
  fetch: async (url, init) => {
    const res = await fetch(url, init);
    const body = await res.arrayBuffer(); // the server has answered; the journal not yet
    await sleep(Math.floor(Math.random() * 30));
    return new Response(body, { status: res.status, headers: res.headers });
  },
});

const count = Number(process.env.OUTBOX_COUNT ?? "0");
if (count > 0) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 100) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, (_, j) =>
        box.enqueue({ pollId: "lunch", optionId: (i + j) % 2 === 0 ? "pizza" : "salad" }),
      ),
    );
    ids.push(...chunk.map((c) => c.eventId));
  }
  await writeFile(env("OUTBOX_IDS"), `${ids.join("\n")}\n`);
  console.log(`enqueued ${ids.length}`);
}

let acked = 0;
box.on("sent", (d) => {
  acked += d.acked.length;
  console.log(`acked ${acked}`);
});
for (;;) {
  const result = await box.flush();
  if (result.pending === 0) break;
  if (result.error?.code === "kiosk_revoked") throw result.error;
  await sleep(result.retryInMs ?? 50);
}
await box.close();
console.log("done");
