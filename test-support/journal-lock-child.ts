import { once } from "node:events";
import { createInterface } from "node:readline";
import { isOutboxError } from "../kiosk-client/errors.ts";
import { newEventId } from "../kiosk-client/event-id.ts";
import { openFileStore } from "../kiosk-client/store-file.ts";

// A kiosk process for the journal lock test (kiosk-client/store-lock.test.ts): waits for a
// line on stdin (so that two of them open at the same moment), then opens the journal at
// LOCK_JOURNAL. Prints "refused <code>" if it could not. Otherwise it enqueues LOCK_COUNT
// votes one by one, acking every other one (so the journal compacts under it), prints
// "kept N", and holds the journal until its stdin ends.

const journal = process.env.LOCK_JOURNAL ?? "";
const count = Number(process.env.LOCK_COUNT ?? "100");
const lines = createInterface({ input: process.stdin });
const closed = once(lines, "close");
await once(lines, "line");
let store: Awaited<ReturnType<typeof openFileStore>>;
try {
  store = await openFileStore(journal, { compactMinRecords: 20 });
} catch (err) {
  console.log(`refused ${isOutboxError(err) ? err.code : String(err)}`);
  process.exit(0);
}
let kept = 0;
for (let i = 0; i < count; i++) {
  const e = {
    eventId: newEventId(),
    pollId: "lunch",
    optionId: `pid-${process.pid}`,
    castAt: new Date().toISOString(),
    enqueuedAt: Date.now(),
  };
  await store.add([e]);
  if (i % 2 === 1) await store.settle({ acked: [e.eventId], refused: [], sentAt: Date.now() });
  else kept++;
}
console.log(`kept ${kept}`);
await closed;
await store.close();
