import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../harness/chromium.ts";
import { REPO_ROOT as ROOT } from "../harness/repo-root.ts";
import { eventually } from "../harness/waiting.ts";
import {
  newContext,
  type PageProblems,
  screenshotPath,
  watchPage,
} from "../test-support/browser.ts";
import {
  type ApiGate,
  gateApi,
  type KioskCredentials,
  launchKioskBrowser,
  queuedEventIds,
  storeCredentials,
  waitForServiceWorker,
} from "../test-support/kiosk-app.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The kiosk app (/pair, /vote, /vote/:pollId and its service worker) in Chromium against
// the whole system: votes go from the page's outbox (IndexedDB) through the API, NATS and
// the batch writer into Postgres, where each test counts them by its own poll.
//
// The pairing test pairs through the API (POST /v1/kiosks/:id/pairing, POST /v1/pair, GET
// /v1/kiosk); the other tests store a kiosk's credentials the way /pair does.

const OPTIONS = [
  { id: "pizza", label: "Pizza" },
  { id: "salad", label: "Salad" },
  { id: "soup", label: "Soup of the day" },
  { id: "curry", label: "Curry" },
];
const WAIT_MS = 30_000;

describe("the kiosk app in Chromium", () => {
  let stack: WebStack;
  let gate: ApiGate;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const profiles: string[] = [];
  const watched: { name: string; problems: PageProblems }[] = [];

  const createPoll = (id: string, extra: Record<string, unknown> = {}) =>
    stack.admin("POST", "/v1/polls", { id, title: `Poll ${id}`, options: OPTIONS, ...extra }, 201);

  const createKiosk = async (id: string, extra: Record<string, unknown> = {}) => {
    const kiosk = (await stack.admin(
      "POST",
      "/v1/kiosks",
      { id, name: `Kiosk ${id}`, ...extra },
      201,
    )) as { token: string };
    return { kioskId: id, name: `Kiosk ${id}`, token: kiosk.token } satisfies KioskCredentials;
  };

  const stored = async (pollId: string) => {
    const { rows } = await stack.harness.db.pool.query<{ event_id: string; kiosk_id: string }>(
      "select event_id, kiosk_id from votes where poll_id = $1",
      [pollId],
    );
    return rows;
  };

  /** Waits until exactly these eventIds of the kiosk are stored for the poll, and nothing else. */
  const storedExactly = async (pollId: string, kioskId: string, ids: string[]) => {
    await eventually(
      `${ids.length} votes stored for ${pollId}`,
      async () => (await stored(pollId)).length >= ids.length,
      { timeoutMs: WAIT_MS },
    );
    const rows = await stored(pollId);
    assert.equal(rows.length, ids.length, "nothing stored twice, nothing else stored");
    assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(ids));
    assert.ok(rows.every((r) => r.kiosk_id === kioskId));
  };

  const newPage = async (name: string, ctx: BrowserContext) => {
    const page = await ctx.newPage();
    watched.push({ name, problems: await watchPage(page) });
    return page;
  };

  /** Opens the voting page as a paired kiosk (credentials stored as /pair does). */
  const openVotePage = async (page: Page, credentials: KioskCredentials, pollId: string) => {
    await page.goto(`${stack.url}/vote`);
    await storeCredentials(page, credentials);
    await page.goto(`${stack.url}/vote/${pollId}`);
    await page.getByRole("button", { name: OPTIONS[0]!.label }).waitFor();
  };

  const pendingShown = (page: Page) =>
    page.locator("#st-waiting").getAttribute("data-pending", { timeout: 2_000 });

  const waitPending = (page: Page, n: number) =>
    eventually(
      `the page shows ${n} waiting`,
      async () => (await pendingShown(page)) === String(n),
      { timeoutMs: WAIT_MS },
    );

  /** Taps an option once its cooldown is over; resolves once the page said thank you. */
  const vote = async (page: Page, label: string) => {
    const button = page.getByRole("button", { name: label, exact: true });
    await eventually(
      `${label} can be tapped`,
      async () => (await button.getAttribute("aria-disabled")) === "false",
      { timeoutMs: WAIT_MS, intervalMs: 50 },
    );
    await button.click();
    await page.locator("#thanks").getByText(`your vote for ${label} is saved`).waitFor();
  };

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    gate = gateApi(stack);
  });

  after(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close().catch(() => {});
    for (const dir of profiles) await rm(dir, { recursive: true, force: true });
    await stack?.close();
  });

  test("pages load under the CSP: /pair, /vote, /vote/:pollId, /kiosk-sw.js", async () => {
    await createPoll("pages");
    for (const path of ["/pair", "/vote", "/vote/pages", "/kiosk-app/vote.html"]) {
      const res = await fetch(`${stack.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-security-policy") ?? "", /worker-src 'self'/);
    }
    assert.equal((await fetch(`${stack.url}/vote/no-such-poll`)).status, 404);
    const worker = await fetch(`${stack.url}/kiosk-sw.js`);
    assert.equal(worker.status, 200);
    assert.match(worker.headers.get("content-type") ?? "", /javascript/);
    const text = await worker.text();
    const version = worker.headers.get("x-kiosk-shell-version");
    assert.ok(version && text.includes(`"${version}"`), "the version is filled in");
    assert.ok(!text.includes("__SHELL"), "no placeholder left");
    for (const url of [
      "/pair",
      "/assets/vote.js",
      "/kiosk-client/outbox.ts",
      "/vendor/uuid/index.js",
    ])
      assert.ok(text.includes(JSON.stringify(url)), `the shell lists ${url}`);
  });

  test("pairs from the API's pairUrl, lists only its polls, votes once", async () => {
    await createPoll("paired");
    await createPoll("elsewhere");
    await stack.admin(
      "POST",
      "/v1/kiosks",
      { id: "pair-me", name: "Hall", pollIds: ["paired"] },
      201,
    );
    const pairing = (await stack.admin("POST", "/v1/kiosks/pair-me/pairing", undefined, 201)) as {
      code: string;
      pairUrl: string;
    };
    assert.ok(pairing.pairUrl.endsWith(`/pair#code=${pairing.code}`), pairing.pairUrl);
    const context = await newContext(browser);
    contexts.push(context);
    const page = await newPage("pair", context);

    // A wrong code first: said plainly, nothing stored.
    await page.goto(`${stack.url}/pair#code=AAAA-AAAA`);
    await page.getByText("unknown, already used or expired").waitFor();
    assert.equal(new URL(page.url()).hash, "", "the code left the address bar");

    await page.goto(pairing.pairUrl.replace(/^https?:\/\/[^/]+/, stack.url));
    await page.waitForURL("**/vote");
    await page.locator('#polls li[data-poll-id="paired"] a').waitFor();
    assert.equal(await page.locator("#kiosk-name").innerText(), "Hall");
    assert.equal(await page.locator('#polls li[data-poll-id="elsewhere"]').count(), 0);
    await page.locator('#polls li[data-poll-id="paired"] a').click();
    await page.waitForURL("**/vote/paired");
    await vote(page, "Salad");
    await waitPending(page, 0);
    await eventually("the vote stored", async () => (await stored("paired")).length === 1);
    const rows = await stored("paired");
    assert.equal(rows.length, 1, "stored once");
    assert.equal(rows[0]!.kiosk_id, "pair-me");
    // The code was single use.
    const again = await fetch(`${stack.url}/v1/pair`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: pairing.code }),
    });
    assert.equal(again.status, 404);
    // The page reports the kiosk's health (heartbeat or batch header): GET /v1/kiosks shows it.
    const seen = await eventually("the kiosk's status reached the API", async () => {
      const { kiosks } = (await stack.admin("GET", "/v1/kiosks")) as {
        kiosks: { id: string; lastSeenAt: string | null; status: { appVersion?: string } | null }[];
      };
      const me = kiosks.find((k) => k.id === "pair-me");
      return me?.status?.appVersion === "tallyflow-kiosk-pages/1" && me;
    });
    assert.ok(seen.lastSeenAt);
  });

  test("offline: 20 votes survive a reload and a new browser, then are stored once", async () => {
    await createPoll("offline", { voteCooldownMs: 0 });
    const kiosk = await createKiosk("offline-kiosk");
    const profile = await mkdtemp(join(tmpdir(), "tallyflow-kiosk-"));
    profiles.push(profile);
    let context = await launchKioskBrowser(profile);
    contexts.push(context);
    let page = await newPage("offline", context);
    await openVotePage(page, kiosk, "offline");
    await waitForServiceWorker(page, "offline");

    await context.setOffline(true);
    for (let i = 0; i < 20; i++) await vote(page, OPTIONS[i % OPTIONS.length]!.label);
    await waitPending(page, 20);
    assert.equal(await page.locator("#st-online").innerText(), "Offline");
    const ids = await queuedEventIds(page);
    assert.equal(ids.length, 20);

    const reloaded = await page.reload();
    assert.ok(reloaded?.fromServiceWorker(), "the page came from the service worker");
    await page.getByRole("button", { name: "Pizza" }).waitFor();
    await waitPending(page, 20);

    await context.close();
    context = await launchKioskBrowser(profile, { offline: true });
    contexts.push(context);
    page = await newPage("offline-reopened", context);
    const reopened = await page.goto(`${stack.url}/vote/offline`);
    assert.ok(reopened?.fromServiceWorker(), "the reopened browser loaded from the service worker");
    await waitPending(page, 20);
    assert.deepEqual(new Set(await queuedEventIds(page)), new Set(ids));
    assert.deepEqual(await stored("offline"), [], "nothing reached the server while offline");

    await context.setOffline(false);
    await storedExactly("offline", kiosk.kioskId, ids);
    await waitPending(page, 0);
    assert.equal(await page.locator("#st-online").innerText(), "Online");
    assert.match(await page.locator("#st-last-sent").innerText(), /^last sent \d\d:\d\d:\d\d$/);
    await storedExactly("offline", kiosk.kioskId, ids);
  });

  test("a new service worker version keeps the queue", async () => {
    await createPoll("update");
    const kiosk = await createKiosk("update-kiosk");
    const context = await newContext(browser);
    contexts.push(context);
    const page = await newPage("update", context);
    await openVotePage(page, kiosk, "update");
    await waitForServiceWorker(page);
    const shellCaches = () =>
      page.evaluate(async () =>
        (await caches.keys()).filter((k) => k.startsWith("tallyflow-kiosk-shell-")),
      );
    const [first] = await shellCaches();
    assert.ok(first);

    gate.refuseBatches = true; // the server says 503, Retry-After an hour: all kept
    for (const label of ["Pizza", "Curry", "Salad"]) await vote(page, label);
    await waitPending(page, 3);
    const ids = await queuedEventIds(page);

    gate.workerVersion = "updatedworker001";
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      await registration?.update();
    });
    await eventually(
      "the new version's cache replaced the old one",
      async () => {
        const names = await shellCaches();
        return names.length === 1 && names[0] === "tallyflow-kiosk-shell-updatedworker001";
      },
      { timeoutMs: WAIT_MS },
    );
    // The page reloads itself under the new worker: the queue is the same.
    await page.getByRole("button", { name: "Pizza" }).waitFor();
    await waitPending(page, 3);
    assert.deepEqual(new Set(await queuedEventIds(page)), new Set(ids));

    gate.refuseBatches = false;
    await page.getByRole("button", { name: "Send now" }).click();
    await storedExactly("update", kiosk.kioskId, ids);
    await waitPending(page, 0);
  });

  test("the API stopped in the middle of a flush: nothing lost, nothing counted twice", async () => {
    await createPoll("cut");
    const kiosk = await createKiosk("cut-kiosk");
    const context = await newContext(browser);
    contexts.push(context);
    const page = await newPage("cut", context);
    await openVotePage(page, kiosk, "cut");

    await context.setOffline(true);
    for (const label of ["Pizza", "Salad", "Soup of the day", "Curry", "Pizza"])
      await vote(page, label);
    await waitPending(page, 5);
    const ids = await queuedEventIds(page);

    const cut = gate.cutNextBatch();
    await context.setOffline(false); // the page flushes at once
    await cut; // the API took the batch, then went away before answering
    await eventually(
      "the page says the server is unreachable",
      async () => (await page.locator("#st-online").innerText()) === "Server unreachable",
      { timeoutMs: WAIT_MS },
    );
    assert.equal(await pendingShown(page), "5", "nothing removed without an answer");

    await gate.restart();
    await page.getByRole("button", { name: "Send now" }).click();
    await waitPending(page, 0);
    await storedExactly("cut", kiosk.kioskId, ids);
    assert.equal(await page.locator("#st-refused").isHidden(), true);
  });

  test("cooldown, a badge scanner, and already_voted shown with its reason", async () => {
    await createPoll("checkin", { oneVotePerVoter: true, voteCooldownMs: 2500 });
    const kiosk = await createKiosk("checkin-kiosk");
    const context = await newContext(browser);
    contexts.push(context);
    const page = await newPage("checkin", context);
    // The page runs on Playwright's clock: paused from just before the vote, the cooldown
    // ends when this test moves the clock, however slow the machine.
    await page.clock.install();
    await openVotePage(page, kiosk, "checkin");
    const voterId = page.getByLabel(/Voter ID/);
    await voterId.waitFor();
    const resting = async () => {
      const states: (string | null)[] = [];
      for (const o of OPTIONS)
        states.push(
          await page
            .getByRole("button", { name: o.label, exact: true })
            .getAttribute("aria-disabled"),
        );
      return states;
    };

    // A badge scanner types the id and Enter: the choices get the focus, Enter votes.
    await voterId.focus();
    await page.keyboard.type("B-1001\n");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), OPTIONS[0]!.label);
    // A moment ahead of the page's clock: the clock moves on while this call travels, and
    // pausing at an instant it has passed is refused. Jumping there fires nothing that
    // matters (no vote is under way yet).
    await page.clock.pauseAt(await page.evaluate(() => Date.now() + 5_000));
    await page.keyboard.press("Enter");
    await page.locator("#thanks").getByText("your vote for Pizza is saved").waitFor();
    // The cooldown: every option rests, and a tap now is not a vote.
    assert.deepEqual(await resting(), ["true", "true", "true", "true"]);
    await page.getByRole("button", { name: "Salad" }).click({ force: true });
    await page.clock.runFor(2_499);
    assert.deepEqual(await resting(), ["true", "true", "true", "true"], "until voteCooldownMs");
    await page.clock.runFor(1);
    assert.deepEqual(await resting(), ["false", "false", "false", "false"], "at voteCooldownMs");
    await page.clock.resume();
    await waitPending(page, 0);
    await eventually("the first vote stored", async () => (await stored("checkin")).length === 1);

    // The same voter again: refused by the server with 409 already_voted, said plainly.
    await voterId.fill("B-1001");
    await vote(page, "Curry");
    await page.getByText("Voter B-1001 has already voted").waitFor({ timeout: WAIT_MS });
    await page.locator("#st-refused summary").click();
    const item = page.locator("#st-refused-list li");
    assert.equal(await item.getAttribute("data-code"), "already_voted");
    assert.match(await item.innerText(), /Curry · voter B-1001 — .+ \(already_voted\)/);
    assert.equal(await page.locator("#st-refused-count").innerText(), "1 vote refused");
    await page.screenshot({ path: screenshotPath("vote-refused") });
    assert.equal((await stored("checkin")).length, 1);
  });

  test("a revoked kiosk is shown as such, and its votes are kept", async () => {
    await createPoll("revoked");
    const kiosk = await createKiosk("revoked-kiosk");
    const context = await newContext(browser);
    contexts.push(context);
    const page = await newPage("revoked", context);
    await openVotePage(page, kiosk, "revoked");
    // A vote waits offline; the kiosk is revoked meanwhile; the sender meets the 403.
    await context.setOffline(true);
    await vote(page, "Pizza");
    await stack.admin("DELETE", "/v1/kiosks/revoked-kiosk");
    await eventually(
      "the API refuses the revoked token",
      async () =>
        (
          await fetch(`${stack.url}/v1/votes`, {
            method: "POST",
            headers: { Authorization: `Bearer ${kiosk.token}`, "Content-Type": "application/json" },
            body: "{}",
          })
        ).status === 403,
    );
    await context.setOffline(false);
    await page.getByText("This kiosk has been revoked").waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator("#st-online").innerText(), "Revoked");
    await waitPending(page, 1);
    assert.equal(await page.locator("#options").isHidden(), true, "no more voting here");
    await page.screenshot({ path: screenshotPath("vote-revoked") });
    assert.deepEqual(await stored("revoked"), []);
  });

  test("layout at 800×480 and 1920×1080, landscape and portrait, and by keyboard", async () => {
    await createPoll("layout", { title: "What should we have for lunch on Friday?" });
    const kiosk = await createKiosk("layout-kiosk");
    // One page, resized and reloaded at each size: the page lays itself out from its load at
    // that size, as a kiosk started on that screen does (a new browser context per size
    // cost seconds each, and proved nothing more).
    const context = await newContext(browser, { width: 800, height: 480 });
    contexts.push(context);
    const page = await newPage("layout", context);
    await openVotePage(page, kiosk, "layout");
    for (const [width, height] of [
      [800, 480],
      [480, 800],
      [1920, 1080],
      [1080, 1920],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.reload();
      await page.getByRole("button", { name: OPTIONS[0]!.label }).waitFor();
      for (const o of OPTIONS) {
        const b = await page.getByRole("button", { name: o.label, exact: true }).boundingBox();
        assert.ok(b, `${o.label} is rendered`);
        assert.ok(
          b.height >= 44 && b.width >= 44,
          `${o.label} is a big target at ${width}×${height}`,
        );
        assert.ok(
          b.x >= 0 && b.x + b.width <= width,
          `${o.label} fits across at ${width}×${height}`,
        );
        assert.ok(
          b.y >= 0 && b.y + b.height <= height,
          `${o.label} fits down at ${width}×${height}`,
        );
      }
      const status = await page.locator("#st-waiting").boundingBox();
      assert.ok(
        status && status.y + status.height <= height,
        `the status shows at ${width}×${height}`,
      );
      assert.equal(
        await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth),
        true,
        `no sideways scrolling at ${width}×${height}`,
      );
      await page.screenshot({ path: screenshotPath(`vote-${width}x${height}`) });
    }
    await copyFile(screenshotPath("vote-800x480"), join(ROOT, "docs", "vote-page.png"));

    // Keyboard (at 1080×1920, the last size): Tab reaches an option, Enter votes.
    await page.reload();
    await page.getByRole("button", { name: OPTIONS[0]!.label }).waitFor();
    let focused = "";
    for (let i = 0; i < 10 && focused !== "Salad"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
    }
    assert.equal(focused, "Salad");
    await page.keyboard.press("Enter");
    await page.locator("#thanks").getByText("your vote for Salad is saved").waitFor();
    await waitPending(page, 0);
  });

  test("no page error and no CSP violation on any page", () => {
    for (const { name, problems } of watched) {
      assert.deepEqual(problems.pageErrors, [], `${name}: page errors`);
      assert.deepEqual(problems.csp(), [], `${name}: CSP`);
    }
  });
});
