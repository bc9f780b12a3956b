import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../harness/chromium.ts";
import { eventually } from "../harness/waiting.ts";
import { assertNoAxeViolations } from "../test-support/axe.ts";
import {
  newContext,
  type PageProblems,
  screenshotPath,
  watchPage,
} from "../test-support/browser.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { waitForServiceWorker } from "../test-support/kiosk-app.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The register page in Chromium against the whole system (API, writer, publisher): a
// teacher opens the sign-in link the school's admin made, picks today's lesson, sees the
// group by name; offline (after a reload from the service worker) marks two pupils absent,
// takes one back and completes; back online, the outbox sends the marks, then the
// completion, and the register's published document says the group less one present, one
// absent, completed. axe-core finds no violation on a phone and on a tablet.

const WAIT_MS = 20_000;
const GROUP = "7A";
const PUPILS = [
  ["P1", "Ada Lovelace"],
  ["P2", "Brian Kernighan"],
  ["P3", "Claude Shannon"],
  ["P4", "Dorothy Vaughan"],
  ["P5", "Edsger Dijkstra"],
] as const;

interface RegisterDocument {
  completed: boolean;
  counts: { present: number; absent: number; pending: number; events: number };
  lists: { present: string[]; absent: string[] };
}

describe("the register page in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  let pollId: string;
  let teacherId: string;
  const contexts: BrowserContext[] = [];
  const watched: { name: string; problems: PageProblems }[] = [];
  const problemsOf = new WeakMap<Page, PageProblems>();

  const open = async (name: string, viewport: { width: number; height: number }) => {
    const context = await newContext(browser, viewport);
    contexts.push(context);
    const page = await context.newPage();
    const problems = await watchPage(page);
    watched.push({ name, problems });
    problemsOf.set(page, problems);
    return { page, context };
  };

  /** A fresh single-use sign-in link, pointed at the test's server. */
  const signInLink = async () => {
    const { link } = (await stack.admin(
      "POST",
      `/v1/schools/default/teachers/${teacherId}/sign-in-link`,
      undefined,
      201,
    )) as { link: string };
    return link.replace(/^https?:\/\/[^/]+/, stack.url);
  };

  /** Opens the link, then today's register from the day's list: its roster is shown. */
  const signInAndOpen = async (page: Page) => {
    await page.goto(await signInLink());
    await page.getByRole("link", { name: /Maths 7A/ }).click();
    await page.getByRole("button", { name: /Ada Lovelace/ }).waitFor({ timeout: WAIT_MS });
  };

  /** axe-core on the page as it stands (test-support/axe.ts). */
  const audit = (page: Page, what: string) =>
    assertNoAxeViolations(page, problemsOf.get(page)!, what);

  const pupil = (page: Page, name: string) => page.getByRole("button", { name: new RegExp(name) });
  const waitPending = (page: Page, n: number) =>
    eventually(
      `the page shows ${n} waiting`,
      async () => (await page.locator("#sync").getAttribute("data-pending")) === String(n),
      { timeoutMs: WAIT_MS },
    );

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    for (const [id, name] of PUPILS)
      await stack.admin("PUT", `/v1/schools/default/people/${id}`, { name, groups: [GROUP] }, 201);
    // Someone of another group: not on the register's list.
    await stack.admin(
      "PUT",
      "/v1/schools/default/people/Q1",
      { name: "Grace Hopper", groups: ["7B"] },
      201,
    );
    // A lesson of today that has started (the school's day is UTC's).
    const now = Date.now();
    const midnight = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`);
    const startsAt = new Date(Math.max(now - 10 * 60_000, midnight + 1_000)).toISOString();
    const created = (await stack.admin(
      "POST",
      "/v1/polls",
      {
        id: "maths-7a",
        kind: "register",
        title: "Maths 7A",
        groupId: GROUP,
        startsAt,
        endsAt: new Date(now + 45 * 60_000).toISOString(),
      },
      201,
    )) as { id: string };
    pollId = created.id;
    const teacher = (await stack.admin(
      "POST",
      "/v1/schools/default/teachers",
      { label: "Ms Noether" },
      201,
    )) as { id: string };
    teacherId = teacher.id;
    await eventually("the API knows the group's members", () =>
      PUPILS.every(([id]) => stack.harness.people.inGroup("default", GROUP, id)),
    );
  });

  after(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.close();
  });

  test("sign in by link, the roster, offline: two absent, one taken back, complete; online: published", async () => {
    const { page, context } = await open("register-phone", { width: 390, height: 844 });
    const wire: string[] = [];
    // What reached the server (a request tried offline fails: requestfailed, not this).
    page.on("requestfinished", (req) => {
      if (req.method() !== "POST") return;
      const path = new URL(req.url()).pathname;
      if (path === "/v1/votes/batch") {
        const { votes } = JSON.parse(req.postData() ?? "{}") as {
          votes: { optionId: string; voterId: string }[];
        };
        wire.push(...votes.map((v) => `${v.optionId} ${v.voterId}`));
      } else if (path.endsWith("/complete")) wire.push("complete");
    });
    const refusals: string[] = [];
    page.on("response", (res) => {
      if (res.status() === 401) refusals.push(new URL(res.url()).pathname);
    });
    await signInAndOpen(page);
    assert.equal(new URL(page.url()).hash, "", "the code left the address bar");
    assert.deepEqual(
      await page.locator(".pupil > span:first-child").allInnerTexts(),
      PUPILS.map(([, name]) => name),
      "the group by name, and no one else",
    );
    await audit(page, "the register on a phone");
    await page.screenshot({ path: screenshotPath("register-phone") });

    // Offline, and the page loaded again: from the service worker, the list from its cache.
    await waitForServiceWorker(page);
    await eventually(
      "the roster is cached",
      () =>
        page.evaluate(
          async (path) =>
            (await caches.match(path, { cacheName: "tallyflow-kiosk-data-v1" })) !== undefined,
          `/v1/registers/${pollId}/roster`,
        ),
      { timeoutMs: WAIT_MS },
    );
    await context.setOffline(true);
    const reloaded = await page.reload();
    assert.ok(reloaded?.fromServiceWorker(), "the page came from the service worker");
    await pupil(page, "Brian Kernighan").waitFor({ timeout: WAIT_MS });

    await pupil(page, "Brian Kernighan").click();
    await pupil(page, "Dorothy Vaughan").click();
    await pupil(page, "Dorothy Vaughan").click(); // taken back
    assert.equal(await pupil(page, "Brian Kernighan").getAttribute("aria-pressed"), "true");
    assert.equal(await pupil(page, "Dorothy Vaughan").getAttribute("aria-pressed"), "false");
    await page.getByRole("button", { name: "Complete", exact: true }).click();
    await page.locator("#completed").waitFor();
    await waitPending(page, 4);
    assert.match(await page.locator("#sync").innerText(), /^Offline · 4 changes waiting/);
    assert.deepEqual(wire, [], "nothing sent while offline");
    await page.screenshot({ path: screenshotPath("register-offline") });

    await context.setOffline(false);
    await waitPending(page, 0);
    assert.deepEqual(
      wire,
      ["absent P2", "absent P4", "present P4", "complete"],
      "the marks, then the completion",
    );

    // Opened offline, the outbox probed the server's clock first: with the teacher's token.
    assert.deepEqual(refusals, [], "no request of the page was refused as unauthenticated");

    let last: RegisterDocument | undefined;
    await eventually(
      "the register published completed",
      async () => {
        const res = await fetch(`${stack.url}/v1/registers/${pollId}`, { headers: ADMIN });
        if (res.status !== 200) return false;
        last = (await res.json()) as RegisterDocument;
        return last.completed;
      },
      { timeoutMs: WAIT_MS },
    );
    assert.equal(last?.counts.present, PUPILS.length - 1);
    assert.equal(last?.counts.absent, 1);
    assert.deepEqual(last?.lists.absent, ["P2"]);
    const { rows } = await stack.harness.db.pool.query<{ kiosk_id: string }>(
      "select distinct kiosk_id from votes where poll_id = $1",
      [pollId],
    );
    assert.deepEqual(
      rows.map((r) => r.kiosk_id),
      [teacherId],
      "stored as the teacher's marks",
    );
  });

  test("on a tablet: the day's list and the register, axe finds nothing; a used link is refused", async () => {
    const { page } = await open("register-tablet", { width: 820, height: 1180 });
    const link = await signInLink();
    await page.goto(link);
    await page.getByRole("link", { name: /Maths 7A/ }).waitFor({ timeout: WAIT_MS });
    await audit(page, "today's registers on a tablet");
    await page.getByRole("link", { name: /Maths 7A/ }).click();
    await pupil(page, "Ada Lovelace").waitFor({ timeout: WAIT_MS });
    // The published state: Brian absent, the register completed.
    await page.locator("#completed").waitFor({ timeout: WAIT_MS });
    assert.equal(await pupil(page, "Brian Kernighan").getAttribute("aria-pressed"), "true");
    await audit(page, "the register on a tablet");
    await page.screenshot({ path: screenshotPath("register-tablet") });

    // The link again (another device): used up.
    const other = await open("register-used-link", { width: 390, height: 844 });
    await other.page.goto(link);
    await other.page.getByText("This sign-in link is unknown, already used or expired").waitFor({
      timeout: WAIT_MS,
    });
    await audit(other.page, "a refused link on a phone");
  });

  test("no page error and no CSP violation", () => {
    for (const { name, problems } of watched) {
      assert.deepEqual(problems.pageErrors, [], `${name}: page errors`);
      assert.deepEqual(problems.csp(), [], `${name}: CSP`);
    }
  });
});
