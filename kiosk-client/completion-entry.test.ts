import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createOutbox } from "./outbox.ts";
import { MemoryStore } from "./store-memory.ts";

// A register's completion in the outbox: queued after the absences enqueued before it, sent
// alone and in queue order, its answers classified as a batch item's. The real API's side is
// web/register-page.test.ts (absences and a completion queued offline, sent when online).

interface Call {
  path: string;
  body: { votes?: { eventId: string; optionId: string }[]; completionId?: string };
}

const POLL = "maths-7a";
const COMPLETION = "0190f5a8-7c4e-7a1b-9c3d-123456789abc";

/** A fetch that records each request and answers with `answer(call)`. */
function fakeApi(answer: (call: Call) => { status: number; body: unknown }) {
  const calls: Call[] = [];
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const call: Call = { path: new URL(url).pathname, body: JSON.parse(String(init.body)) };
    if (call.path === "/v1/kiosk/heartbeat") return new Response(null, { status: 204 });
    calls.push(call);
    const { status, body } = answer(call);
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", date: new Date().toUTCString() },
    });
  };
  return { calls, fetch };
}

const acceptAll = (call: Call) =>
  call.body.votes !== undefined
    ? {
        status: 200,
        body: {
          results: call.body.votes.map((v, index) => ({
            index,
            eventId: v.eventId,
            status: "accepted",
          })),
        },
      }
    : {
        status: 202,
        body: { pollId: POLL, completionId: call.body.completionId, status: "accepted" },
      };

const outboxOver = (fetch: ReturnType<typeof fakeApi>["fetch"]) =>
  createOutbox({
    store: new MemoryStore(),
    apiUrl: "http://api.test",
    token: "tft_test",
    fetch,
    sendStatus: false,
  });

describe("a completion in the outbox", () => {
  test("goes alone, after the absences queued before it and before those queued after", async () => {
    const api = fakeApi(acceptAll);
    const outbox = outboxOver(api.fetch);
    await outbox.enqueue({ pollId: POLL, optionId: "absent", voterId: "P1" });
    await outbox.enqueue({ pollId: POLL, optionId: "absent", voterId: "P2" });
    const { completionId, completedAt } = await outbox.enqueueCompletion({
      pollId: POLL,
      completionId: COMPLETION,
    });
    await outbox.enqueue({ pollId: POLL, optionId: "present", voterId: "P2" });
    assert.equal(completionId, COMPLETION);
    assert.equal((await outbox.pending()).length, 4);

    const flushed = await outbox.flush();
    assert.equal(flushed.acked, 4);
    assert.equal(flushed.pending, 0);
    assert.deepEqual(
      api.calls.map((c) => [c.path, c.body.votes?.map((v) => v.optionId) ?? c.body.completionId]),
      [
        ["/v1/votes/batch", ["absent", "absent"]],
        [`/v1/registers/${POLL}/complete`, COMPLETION],
        ["/v1/votes/batch", ["present"]],
      ],
    );
    assert.equal(
      (api.calls[1]!.body as { completedAt?: string }).completedAt,
      completedAt,
      "sent with the time it was queued at",
    );
    await outbox.close();
  });

  test("a refusal (409) is kept as refused; a 503 keeps it pending; a 202 duplicate acks it", async () => {
    let answer: { status: number; body: unknown } = {
      status: 503,
      body: { error: { code: "nats_unavailable", message: "down" } },
    };
    const api = fakeApi(() => answer);
    const outbox = outboxOver(api.fetch);
    await outbox.enqueueCompletion({ pollId: POLL, completionId: COMPLETION });

    const down = await outbox.flush();
    assert.equal(down.error?.code, "server_unavailable");
    assert.equal(down.pending, 1);

    answer = { status: 202, body: { pollId: POLL, completionId: COMPLETION, status: "duplicate" } };
    const duplicates: string[] = [];
    outbox.on("sent", (d) => duplicates.push(...d.duplicates));
    const up = await outbox.flush({ force: true });
    assert.equal(up.acked, 1);
    assert.deepEqual(duplicates, [COMPLETION]);

    answer = {
      status: 409,
      body: { error: { code: "poll_archived", message: "register is archived" } },
    };
    await outbox.enqueueCompletion({ pollId: POLL });
    const refused = await outbox.flush();
    assert.equal(refused.refused, 1);
    const [kept] = await outbox.refused();
    assert.equal(kept?.error.code, "poll_archived");
    assert.equal(kept?.entry.kind, "completion");
    await outbox.close();
  });

  test("a completion that could never be sent is refused to the caller at once", async () => {
    const outbox = outboxOver(fakeApi(acceptAll).fetch);
    await assert.rejects(outbox.enqueueCompletion({ pollId: POLL, completionId: "nope" }), {
      code: "invalid_vote",
    });
    await outbox.close();
  });
});
