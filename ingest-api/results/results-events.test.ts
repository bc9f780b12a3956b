import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { resultsChannel } from "../../common/results-contract.ts";
import { eventually } from "../../harness/waiting.ts";
import { createPoll, isoFromNow, minutes } from "../../test-support/api.ts";
import { ADMIN } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { type ResultsPipeline, startResultsPipeline } from "../../test-support/results-pipeline.ts";

interface SseEvent {
  event: string | undefined;
  id: string | undefined;
  data: string | undefined;
  retry: string | undefined;
}

/** An EventSource-like client on fetch: records every event block it receives. */
class SseClient {
  readonly events: SseEvent[] = [];
  readonly #abort = new AbortController();
  #reading: Promise<void> = Promise.resolve();

  static async open(url: string): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, {
      headers: { Accept: "text/event-stream" },
      signal: client.#abort.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    assert.ok(res.body);
    client.#reading = client.#read(res.body);
    return client;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = {
            event: undefined,
            id: undefined,
            data: undefined,
            retry: undefined,
          };
          for (const line of block.split("\n")) {
            const m = /^(event|id|data|retry): ?(.*)$/.exec(line);
            if (m) event[m[1] as keyof SseEvent] = m[2];
          }
          if (block.split("\n").some((l) => !l.startsWith(":"))) this.events.push(event);
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted by close()
    }
  }

  /** The `results` events' data, parsed. */
  results(): { pollId: string; version: string }[] {
    return this.events
      .filter((e) => e.event === "results")
      .map((e) => {
        const data = JSON.parse(e.data ?? "null") as { pollId: string; version: string };
        assert.equal(e.id, data.version, "the event id is the version");
        return data;
      });
  }

  /** Waits for a `results` event of this version (a deadline, not a speed check). */
  async waitFor(version: string): Promise<void> {
    await eventually(
      `an SSE results event with version ${version}`,
      async () => (this.results().some((r) => r.version === version) ? true : undefined),
      { timeoutMs: 10_000 },
    );
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#reading;
  }
}

describe("results events (SSE)", () => {
  let p: ResultsPipeline;
  let base: string;
  let stored = 0;
  const clients: SseClient[] = [];
  const open = async (pollId: string) => {
    const client = await SseClient.open(`${base}/v1/polls/${pollId}/events`);
    clients.push(client);
    return client;
  };
  const subscribers = async () => {
    const channel = resultsChannel(p.h.names.redisKeyPrefix);
    return (await p.h.redis.pubSubNumSub(channel))[channel];
  };
  const sseGauge = async () => {
    return metricSample(await p.h.metrics(), "tallyflow_sse_clients");
  };
  const votes = async (list: [pollId: string, optionId: string][]) => {
    await p.voteBatch(list.map(([pollId, optionId]) => ({ pollId, optionId })));
    stored += list.length;
    await p.stored(stored);
  };

  before(async () => {
    p = await startResultsPipeline({ RESULTS_INTERVAL_MS: "3000" });
    base = await p.listen();
    await createPoll(p.h.app, { id: "live" });
    await createPoll(p.h.app, { id: "other" });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await p?.close();
  });

  test("an unknown poll's event stream is 404", async () => {
    const res = await fetch(`${base}/v1/polls/nope/events`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "poll_not_found");
  });

  test("clients get the current version first, then each new one, over one Redis subscription", async () => {
    assert.equal(await subscribers(), 1, "the API subscribes once, before any client");
    await votes([["live", "yes"]]);
    await p.publisher.run();
    const v1 = (await p.published("live")).version;

    const live = [await open("live"), await open("live"), await open("live")];
    const other = await open("other");
    for (const client of live) await client.waitFor(v1);
    for (const client of live) {
      assert.deepEqual(client.events[0], {
        event: undefined,
        id: undefined,
        data: undefined,
        retry: "3000",
      });
      assert.deepEqual(client.results(), [{ pollId: "live", version: v1 }]);
    }
    assert.equal(await subscribers(), 1, "still one subscription with four clients");
    assert.equal(await sseGauge(), 4);

    await votes([
      ["live", "no"],
      ["live", "no"],
    ]);
    const summary = await p.publisher.run();
    assert.deepEqual(summary.published, ["live"]);
    const v2 = (await p.published("live")).version;
    assert.notEqual(v2, v1);
    for (const client of live) {
      await client.waitFor(v2);
      assert.deepEqual(client.results(), [
        { pollId: "live", version: v1 },
        { pollId: "live", version: v2 },
      ]);
    }
    // "other" was published at the first run only: its client saw that version alone.
    const otherVersion = (await p.published("other")).version;
    await other.waitFor(otherVersion);
    assert.deepEqual(other.results(), [{ pollId: "other", version: otherVersion }]);
    assert.equal(await subscribers(), 1);
  });

  test("disconnected clients are forgotten; the subscription stays", async () => {
    await Promise.all(clients.map((c) => c.close()));
    await eventually("no SSE clients left", async () =>
      (await sseGauge()) === 0 ? true : undefined,
    );
    assert.equal(await subscribers(), 1);

    // A client connecting later still gets the current version at once.
    const late = await open("live");
    const current = (await p.published("live")).version;
    await late.waitFor(current);
    assert.deepEqual(late.results(), [{ pollId: "live", version: current }]);
  });

  test("a hidden poll's stream announces no version while votes arrive, then its results", async () => {
    await createPoll(p.h.app, {
      id: "sealed",
      closesAt: isoFromNow(minutes(60)),
      resultsVisibility: "after_close",
    });
    assert.ok((await p.publisher.run()).published.includes("sealed"));
    const placeholder = (await p.published("sealed")).version;
    const client = await open("sealed");
    await client.waitFor(placeholder);

    await votes([
      ["sealed", "yes"],
      ["sealed", "no"],
    ]);
    assert.deepEqual((await p.publisher.run()).published, []);
    // Redis delivers one channel's messages in order: once this one is through, anything
    // the run announced is too.
    await p.h.redis.publish(
      resultsChannel(p.h.names.redisKeyPrefix),
      JSON.stringify({ pollId: "sealed", version: "barrier" }),
    );
    await client.waitFor("barrier");
    assert.deepEqual(
      client.results().map((r) => r.version),
      [placeholder, "barrier"],
    );

    await request(p.h.app)
      .patch("/v1/polls/sealed")
      .set(ADMIN)
      .send({ closesAt: isoFromNow(-minutes(1)) })
      .expect(200);
    assert.deepEqual((await p.publisher.run()).published, ["sealed"]);
    const shown = await p.visible("sealed");
    assert.equal(shown.totalVotes, 2);
    await client.waitFor(shown.version);
  });
});
