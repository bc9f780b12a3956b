import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../harness/chromium.ts";
import { eventually } from "../harness/waiting.ts";
import { newContext, type PageProblems, watchPage } from "../test-support/browser.ts";
import { type OutboxApi, startOutboxApi } from "../test-support/outbox-api.ts";
import type { OutboxStatus, RefusedEntry } from "./types.ts";

// The browser outbox in Chromium: a page on the API's origin, under the pages' CSP, imports
// /kiosk-client/outbox.ts (types stripped by the API) with the IndexedDB store. Votes cast
// offline survive a reload and are sent, once, when the network is back.
//
// The page itself is test-only (routed by playwright on the API's origin, with the API's own
// CSP), since the real kiosk page is built later on top of this library.

const PAGE = "/__outbox-test.html";
const SCRIPT = "/__outbox-test.js";

const html = `<!doctype html><html><head><meta charset="utf-8"><title>outbox test</title>
<script type="module" src="${SCRIPT}"></script></head><body><p id="state">loading</p></body></html>`;

const script = `import { createOutbox } from "/kiosk-client/outbox.ts";
import { openIndexedDbStore } from "/kiosk-client/store-indexeddb.ts";
let box;
window.outboxTest = {
  async open(token) {
    const store = await openIndexedDbStore({ name: "outbox-test" });
    box = createOutbox({ store, apiUrl: location.origin, token, minBackoffMs: 100, maxBackoffMs: 500, pollIntervalMs: 200, appVersion: "test", registryLagRetryMs: 0 });
    return true;
  },
  enqueue: (vote) => box.enqueue(vote),
  status: () => box.status(),
  refused: () => box.refused(),
  async flush() {
    const r = await box.flush({ force: true });
    return { acked: r.acked, pending: r.pending, error: r.error ? r.error.code : null };
  },
  start: () => box.start(),
};
document.getElementById("state").textContent = "ready";
`;

/** What the test page puts on window.outboxTest. */
interface PageApi {
  open(token: string): Promise<boolean>;
  enqueue(vote: { pollId: string; optionId: string }): Promise<{ eventId: string }>;
  status(): Promise<OutboxStatus>;
  refused(): Promise<RefusedEntry[]>;
  flush(): Promise<{ acked: number; pending: number; error: string | null }>;
  start(): void;
}

type PageCalls = Record<string, (arg: unknown) => unknown>;

describe("the browser outbox (IndexedDB) in Chromium", () => {
  let api: OutboxApi;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;

  /** Calls window.outboxTest[name](arg) in the page. */
  const call = <K extends keyof PageApi>(name: K, arg?: Parameters<PageApi[K]>[0]) =>
    page.evaluate(
      ([n, a]) => (globalThis as unknown as { outboxTest: PageCalls }).outboxTest[n]!(a),
      [name, arg] as const,
    ) as Promise<Awaited<ReturnType<PageApi[K]>>>;
  const status = () => call("status");
  const open = async () => {
    await page.goto(`${api.url}${PAGE}`);
    await eventually(
      "the test module loaded",
      async () =>
        (await page.evaluate(() => typeof (globalThis as { outboxTest?: unknown }).outboxTest)) ===
        "object",
    );
    await call("open", api.kiosk.token);
  };

  before(async () => {
    api = await startOutboxApi();
    const csp = (await fetch(`${api.url}/`)).headers.get("content-security-policy");
    assert.ok(csp?.includes("script-src 'self'"), `the pages' CSP: ${csp}`);
    browser = await launchChromium();
    context = await newContext(browser);
    await context.route(`${api.url}${PAGE}`, (route) =>
      route.fulfill({
        contentType: "text/html",
        headers: { "content-security-policy": csp ?? "" },
        body: html,
      }),
    );
    await context.route(`${api.url}${SCRIPT}`, (route) =>
      route.fulfill({ contentType: "text/javascript", body: script }),
    );
    page = await context.newPage();
    problems = await watchPage(page);
  });
  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await api?.close();
  });

  test("offline votes are kept across a reload, then sent once when back online", async () => {
    await open();
    await context.setOffline(true);
    const ids: string[] = [];
    for (const optionId of ["pizza", "salad", "pizza"]) {
      const { eventId } = await call("enqueue", { pollId: "lunch", optionId });
      ids.push(eventId);
    }
    const bad = await call("enqueue", { pollId: "lunch", optionId: "tacos" });
    const offline = await call("flush");
    assert.deepEqual(offline, { acked: 0, pending: 4, error: "network_error" });

    await context.setOffline(false);
    await page.reload(); // a new page: what it sees comes from IndexedDB
    await open();
    const reloaded = await status();
    assert.equal(reloaded.pending, 4);
    assert.ok(reloaded.oldestPendingAt !== null);
    assert.equal(typeof reloaded.persisted, "boolean", "persistence asked and reported");

    await call("start");
    await eventually("the queue sent", async () => (await status()).pending === 0, {
      timeoutMs: 30_000,
    });
    await api.storedCount(3);
    const stored = await api.stored();
    assert.equal(stored.rows, 3);
    assert.deepEqual(stored.ids, new Set(ids));
    const sent = await status();
    assert.ok(sent.lastSentAt !== null);
    assert.equal(sent.lastError, null);
    assert.equal(sent.refused, 1);
    const refused = await call("refused");
    assert.deepEqual(
      refused.map((r) => [r.entry.eventId, r.error.code]),
      [[bad.eventId, "unknown_option"]],
    );

    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(problems.csp(), []);
    // Only the offline flush's failed request may have logged an error to the console.
    assert.ok(
      problems.consoleErrors.every((m) => /ERR_INTERNET_DISCONNECTED|Failed to fetch/i.test(m)),
      problems.consoleErrors.join("\n"),
    );
  });
});
