import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import type { PublishedResults, VisibleResults } from "../common/results-contract.ts";
import { launchChromium } from "../harness/chromium.ts";
import {
  newContext,
  type PageProblems,
  screenshotPath,
  watchPage,
} from "../test-support/browser.ts";
import { startWebStack, type VoteRequest, type WebStack } from "../test-support/web-stack.ts";

// The web pages in a real browser (Debian's Chromium through playwright-core), against the
// whole system: votes go through the API, NATS, the batch writer and the result publisher,
// and reach the page by Server-Sent Events (or by polling while those are cut).

const POLL = "lunch";
const TIME_ZONE = "Europe/London"; // the browser runs in America/New_York: the poll's zone wins
const OPTIONS = [
  { id: "pizza", label: "Pizza" },
  { id: "salad", label: "Salad" },
  { id: "soup", label: "Soup of the day" },
  { id: "curry", label: "Curry" },
];
const SECRET = "board";
const MINUTE = 60_000;
const UPDATE_TIMEOUT_MS = 15_000;

const countFormat = new Intl.NumberFormat("en");
const shareFormat = new Intl.NumberFormat("en", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

/** Votes spread over the last `minutes`, so the 10-minute distribution has several buckets. */
function spreadVotes(n: number, minutes: number, pattern: number[]): VoteRequest[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    pollId: POLL,
    optionId: OPTIONS[pattern[i % pattern.length]!]!.id,
    castAt: new Date(now - minutes * MINUTE + ((i + 1) * minutes * MINUTE) / (n + 1)).toISOString(),
  }));
}

function visible(results: PublishedResults | undefined): VisibleResults {
  assert.ok(results && !results.hidden, `expected visible results: ${JSON.stringify(results)}`);
  return results;
}

/**
 * Waits until `expression` is truthy in the page. Polled from here with page.evaluate:
 * page.waitForFunction compiles its predicate in the page, which the CSP forbids.
 */
async function waitFor(page: Page, expression: string, timeout = UPDATE_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate<unknown>(expression)) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeout} ms: ${expression}`);
    await sleep(100);
  }
}

/** Waits until an element's trimmed text equals `text`. */
async function waitForText(
  page: Page,
  selector: string,
  text: string,
  timeout = UPDATE_TIMEOUT_MS,
) {
  try {
    await waitFor(
      page,
      `document.querySelector(${JSON.stringify(selector)})?.textContent?.trim() === ${JSON.stringify(text)}`,
      timeout,
    );
  } catch (err) {
    const actual = await page
      .locator(selector)
      .textContent()
      .catch(() => "(missing)");
    throw new Error(`${selector}: expected "${text}", still "${actual}"`, { cause: err });
  }
}

/** The rows of the dashboard's totals table: option id → [label, count, share]. */
async function totalsTable(page: Page): Promise<Map<string, string[]>> {
  const rows = page.locator("#totals-body tr");
  const table = new Map<string, string[]>();
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const id = await row.getAttribute("data-option-id");
    table.set(
      String(id),
      (await row.locator("th, td").allInnerTexts()).map((t) => t.trim()),
    );
  }
  return table;
}

function expectTableMatches(table: Map<string, string[]>, results: VisibleResults) {
  assert.deepEqual(
    [...table.keys()],
    results.options.map((o) => o.id),
  );
  for (const o of results.options)
    assert.deepEqual(
      table.get(o.id),
      [o.label, countFormat.format(o.count), shareFormat.format(o.share)],
      `row of ${o.id}`,
    );
}

/** HH:MM:SS of an instant in the poll's time zone. */
function clock(iso: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: TIME_ZONE,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}

async function box(locator: Locator) {
  const b = await locator.boundingBox();
  assert.ok(b, "element is not rendered");
  return b;
}

describe("web pages in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  let context: BrowserContext;
  let total = 0;
  const watched: { name: string; problems: PageProblems }[] = [];

  const open = async (name: string, path: string, ctx = context) => {
    const page = await ctx.newPage();
    const problems = await watchPage(page);
    watched.push({ name, problems });
    const response = await page.goto(`${stack.url}${path}`);
    return { page, problems, response };
  };

  const addVotes = async (votes: VoteRequest[]) => {
    await stack.vote(votes);
    total += votes.length;
    return visible(await stack.published(POLL, total));
  };

  before(async () => {
    // Settle both before failing: a browser that cannot start must not leave the stack
    // (API, writer, publisher, database) running with nothing to close it.
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    context = await newContext(browser);
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: POLL, title: "Lunch vote", options: OPTIONS, timeZone: TIME_ZONE },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/polls",
      {
        id: SECRET,
        title: "Board election",
        options: [
          { id: "ada", label: "Ada" },
          { id: "grace", label: "Grace" },
        ],
        resultsVisibility: "after_close",
        closesAt: new Date(Date.now() + 86_400_000).toISOString(),
        timeZone: TIME_ZONE,
      },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/polls",
      {
        id: "social",
        title: "Friday social",
        options: OPTIONS.slice(0, 2),
        opensAt: new Date(Date.now() + 2 * 3_600_000).toISOString(),
      },
      201,
    );
    await stack.admin("POST", "/v1/polls", { id: "old", title: "Old poll", options: OPTIONS }, 201);
    await stack.admin("PATCH", "/v1/polls/old", { archived: true });
    await stack.vote([{ pollId: SECRET, optionId: "ada" }]);
    await addVotes(spreadVotes(37, 55, [0, 1, 0, 2, 3, 0, 1, 2, 0, 3, 1]));
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  test("GET /v1/public/polls lists non-archived polls from the registry cache, no admin token", async () => {
    const res = await fetch(`${stack.url}/v1/public/polls`);
    assert.equal(res.status, 200);
    const { polls } = (await res.json()) as { polls: { id: string; status: string }[] };
    assert.deepEqual(
      polls.map((p) => [p.id, p.status]),
      [
        [SECRET, "open"],
        [POLL, "open"],
        ["social", "not_open"],
      ],
    );
    assert.deepEqual(Object.keys(polls[1]!).sort(), [
      "archived",
      "closesAt",
      "id",
      "kind",
      "oneVotePerVoter",
      "opensAt",
      "options",
      "resultsVisibility",
      "schoolId",
      "status",
      "timeZone",
      "title",
      "voteCooldownMs",
      "voters",
    ]);
    const one = await fetch(`${stack.url}/v1/public/polls/${POLL}`);
    assert.equal(((await one.json()) as { title: string }).title, "Lunch vote");
    assert.equal((await fetch(`${stack.url}/v1/public/polls/nope`)).status, 404);
  });

  test("/ lists the open polls with links that work and that Tab reaches", async () => {
    const { page, response } = await open("index", "/");
    assert.equal(response?.status(), 200);
    const item = page.locator(`#open-polls li[data-poll-id="${POLL}"]`);
    await item.waitFor();
    assert.equal(await item.locator("a.poll-title").innerText(), "Lunch vote");
    assert.equal(await page.locator("#open-polls li").count(), 2); // lunch and board
    assert.equal(await page.locator(`#other-polls li[data-poll-id="social"]`).count(), 1);
    assert.equal(
      await page.locator(`[data-poll-id="old"]`).count(),
      0,
      "archived polls are not listed",
    );
    assert.match(await page.locator("h1").innerText(), /Open polls/);
    await page.screenshot({ path: screenshotPath("index"), fullPage: true });

    const reached: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      reached.push(
        await page.evaluate<string>("document.activeElement?.getAttribute('href') ?? ''"),
      );
      if (reached.at(-1) === `/dashboard/${POLL}`) break;
    }
    assert.ok(reached.includes(`/dashboard/${POLL}`), `Tab reached only ${reached.join(", ")}`);
    await Promise.all([page.waitForURL(`**/dashboard/${POLL}`), page.keyboard.press("Enter")]);
    await waitForText(page, "h1", "Lunch vote");
    await page.close();
  });

  test("/s/:schoolId lists only that school's polls, under its name", async () => {
    await stack.admin("POST", "/v1/schools", { id: "riverside", name: "Riverside Primary" }, 201);
    const created = (await stack.admin(
      "POST",
      "/v1/polls",
      { id: POLL, schoolId: "riverside", title: "Riverside lunch", options: OPTIONS },
      201,
    )) as { id: string };
    const { page, response } = await open("school-index", "/s/riverside");
    assert.equal(response?.status(), 200);
    const item = page.locator(`#open-polls li[data-poll-id="${created.id}"]`);
    await item.waitFor();
    assert.equal(await page.locator("#open-polls li").count(), 1, "the default school's are not");
    assert.equal(
      await item.locator("a.poll-title").getAttribute("href"),
      `/dashboard/${created.id}`,
    );
    await waitForText(page, "h1", "Open polls — Riverside Primary");
    await page.close();
    assert.equal((await fetch(`${stack.url}/s/nowhere`)).status, 404);
    const list = await fetch(`${stack.url}/v1/public/polls?schoolId=nowhere`);
    assert.equal(list.status, 404);
  });

  test("the dashboard shows the API's numbers, then updates live without a reload", async () => {
    const { page, response } = await open("dashboard", `/dashboard/${POLL}`);
    assert.equal(response?.status(), 200);
    const csp = String(response?.headers()["content-security-policy"]);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /style-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(response?.headers()["x-content-type-options"], "nosniff");

    let api = visible(await stack.results(POLL));
    await waitForText(page, "#total-votes", countFormat.format(api.totalVotes));
    await waitForText(page, "h1", "Lunch vote");
    expectTableMatches(await totalsTable(page), api);
    assert.equal(
      await page.locator("#totals-foot").innerText(),
      countFormat.format(api.totalVotes),
    );
    // Freshness in the poll's time zone, not the browser's.
    assert.match(
      await page.locator("#freshness").innerText(),
      new RegExp(`^as of ${clock(api.asOf!)}, (\\d+ s ago|just now)$`),
    );
    // The charts have text alternatives with the numbers.
    const label = String(await page.locator("#totals-chart").getAttribute("aria-label"));
    for (const o of api.options) assert.ok(label.includes(`${o.label}: ${o.count}`), label);
    assert.equal(await page.locator("#totals-chart").getAttribute("role"), "img");
    // The distribution table sums to the totals.
    const distribution = page.locator("#distribution-body tr");
    assert.equal(await distribution.count(), api.distribution.buckets);
    let sum = 0;
    for (const cell of await page.locator("#distribution-body td:last-child").allTextContents())
      sum += Number(cell.replace(/,/g, ""));
    assert.equal(sum, api.totalVotes);
    assert.ok(api.distribution.buckets >= 5, `buckets: ${api.distribution.buckets}`);
    assert.equal(await page.locator("h2").count(), 2);
    await waitFor(page, "document.body.dataset.connection === 'live'");
    assert.equal(await page.locator("#connection").isVisible(), false);
    await page.screenshot({ path: screenshotPath("dashboard"), fullPage: true });

    // Keyboard: the summary opens the distribution's table.
    await page.locator("#distribution-details summary").focus();
    await page.keyboard.press("Enter");
    assert.equal(await page.locator("#distribution-table").isVisible(), true);

    await page.evaluate("window.loadedOnce = 42");
    api = await addVotes([
      { pollId: POLL, optionId: "curry" },
      { pollId: POLL, optionId: "curry" },
      { pollId: POLL, optionId: "salad" },
    ]);
    await waitForText(page, "#total-votes", countFormat.format(api.totalVotes));
    expectTableMatches(await totalsTable(page), api);
    assert.equal(await page.evaluate("window.loadedOnce"), 42, "the page reloaded");
    await page.screenshot({ path: screenshotPath("dashboard-updated"), fullPage: true });
    await page.close();
  });

  test("a lost connection is shown, and the page keeps updating by polling until it is back", async () => {
    const { page } = await open("dashboard-connection-lost", `/dashboard/${POLL}`);
    await waitForText(page, "#total-votes", countFormat.format(total));
    await waitFor(page, "document.body.dataset.connection === 'live'");

    // Cut the event stream: the open one drops, and reconnecting fails.
    await page.route("**/events", (route) => route.abort("connectionreset"));
    stack.server.closeAllConnections();
    await page.locator("#connection").waitFor({ state: "visible", timeout: UPDATE_TIMEOUT_MS });
    assert.match(await page.locator("#connection").innerText(), /Connection lost — retrying/);

    const api = await addVotes([{ pollId: POLL, optionId: "soup" }]);
    await waitForText(page, "#total-votes", countFormat.format(api.totalVotes));
    expectTableMatches(await totalsTable(page), api);
    assert.equal(await page.locator("#connection").isVisible(), true);
    await page.screenshot({ path: screenshotPath("dashboard-connection-lost") });

    await page.unroute("**/events");
    await page.locator("#connection").waitFor({ state: "hidden", timeout: 20_000 });
    await page.close();
  });

  for (const [width, height] of [
    [1920, 1080],
    [800, 480],
  ] as const)
    test(`the kiosk display fits ${width}×${height} without scrolling`, async () => {
      const ctx = await newContext(browser, { width, height });
      try {
        const { page, response } = await open(`kiosk-${width}x${height}`, `/kiosk/${POLL}`, ctx);
        assert.equal(response?.status(), 200);
        const api = visible(await stack.results(POLL));
        await waitForText(page, "#total", countFormat.format(api.totalVotes));
        await waitForText(page, "h1", "Lunch vote");
        const size = await page.evaluate<Record<string, number>>(`({
          scrollHeight: document.documentElement.scrollHeight,
          scrollWidth: document.documentElement.scrollWidth,
          innerHeight, innerWidth,
          mainScroll: document.querySelector("main").scrollHeight,
          mainHeight: document.querySelector("main").clientHeight,
          tableScroll: document.querySelector("#totals").scrollHeight,
          tableHeight: document.querySelector("#totals").clientHeight,
        })`);
        assert.ok(size.scrollHeight! <= size.innerHeight!, JSON.stringify(size));
        assert.ok(size.scrollWidth! <= size.innerWidth!, JSON.stringify(size));
        assert.ok(size.mainScroll! <= size.mainHeight!, `clipped: ${JSON.stringify(size)}`);
        assert.ok(size.tableScroll! <= size.tableHeight!, `clipped: ${JSON.stringify(size)}`);

        const totalBox = await box(page.locator("#total"));
        assert.ok(totalBox.y >= 0 && totalBox.y + totalBox.height <= height, "total off screen");
        assert.ok(totalBox.height >= height * 0.08, `total is small: ${totalBox.height}px`);
        for (const o of api.options) {
          const row = page.locator(`#rows tr[data-option-id="${o.id}"]`);
          const cells = (await row.locator("th, td").allInnerTexts()).map((t) => t.trim());
          assert.deepEqual(cells, [
            o.label,
            "",
            countFormat.format(o.count),
            shareFormat.format(o.share),
          ]);
          const b = await box(row);
          assert.ok(b.y + b.height <= height && b.x + b.width <= width, `${o.id} row off screen`);
        }
        // High contrast: white on black.
        const colors = await page.evaluate<string[]>(
          "[getComputedStyle(document.body).color, getComputedStyle(document.body).backgroundColor]",
        );
        assert.deepEqual(colors, ["rgb(255, 255, 255)", "rgb(0, 0, 0)"]);
        await page.screenshot({ path: screenshotPath(`kiosk-${width}x${height}`) });
      } finally {
        await ctx.close();
      }
    });

  test("the kiosk display shows the server-rendered PNG with ?image=1, refreshed on each version", async () => {
    const ctx = await newContext(browser, { width: 800, height: 480 });
    try {
      const { page } = await open("kiosk-image", `/kiosk/${POLL}?image=1`, ctx);
      const loaded = (version: string) =>
        waitFor(
          page,
          `(() => { const img = document.querySelector("#chart-image");
             return img.complete && img.naturalWidth > 0 && img.src.endsWith(${JSON.stringify(`v=${encodeURIComponent(version)}`)}); })()`,
        );
      let api = visible(await stack.results(POLL));
      await loaded(api.version);
      const alt = String(await page.locator("#chart-image").getAttribute("alt"));
      for (const o of api.options) assert.ok(alt.includes(`${o.label} ${o.count} vote`), alt);
      assert.ok(alt.includes(`${api.totalVotes} votes in total`), alt);
      const size = await page.evaluate<number[]>(
        "[document.documentElement.scrollHeight, innerHeight]",
      );
      assert.ok(size[0]! <= size[1]!, `scrolls: ${size}`);
      await page.screenshot({ path: screenshotPath("kiosk-image-800x480") });

      api = await addVotes([{ pollId: POLL, optionId: "pizza" }]);
      await loaded(api.version);
    } finally {
      await ctx.close();
    }
  });

  test("an unknown poll gets a friendly 404 page", async () => {
    for (const path of ["/dashboard/no-such-poll", "/kiosk/no-such-poll", "/dashboard/bad%20id"]) {
      const { page, response } = await open(`not-found ${path}`, path);
      assert.equal(response?.status(), 404, path);
      assert.match(String(response?.headers()["content-type"]), /^text\/html/);
      assert.equal(await page.locator("h1").innerText(), "Sorry, we can’t find that poll");
      assert.match(await page.locator("main").innerText(), /The link may be mistyped/);
      assert.equal(await page.locator('main a[href="/"]').count(), 1);
      if (path === "/dashboard/no-such-poll") {
        await waitForText(page, "#poll-id", "“no-such-poll”");
        await page.screenshot({ path: screenshotPath("not-found") });
      }
      await page.close();
    }
  });

  test("a poll whose results are hidden until it closes says so plainly", async () => {
    const { page } = await open("hidden-dashboard", `/dashboard/${SECRET}`);
    await page.locator("#message").waitFor({ state: "visible" });
    await waitForText(page, "h1", "Board election");
    assert.match(
      await page.locator("#message").innerText(),
      /The results of this poll are hidden until it closes at .+\(Europe\/London\)/,
    );
    assert.equal(await page.locator("#results").isVisible(), false);
    assert.equal(await page.locator("#totals-body tr").count(), 0);
    await page.screenshot({ path: screenshotPath("dashboard-hidden") });
    await page.close();

    const kiosk = await open("hidden-kiosk", `/kiosk/${SECRET}`);
    await kiosk.page.locator("#message").waitFor({ state: "visible" });
    assert.match(await kiosk.page.locator("#message").innerText(), /hidden until the poll closes/);
    assert.equal(await kiosk.page.locator("#total").innerText(), "–");
    await kiosk.page.close();
  });

  test("no page broke its Content Security Policy or threw", async () => {
    const problems: string[] = [];
    for (const { name, problems: p } of watched) {
      for (const v of p.csp()) problems.push(`${name}: CSP ${v}`);
      for (const e of p.pageErrors) problems.push(`${name}: ${e}`);
    }
    assert.deepEqual(problems, []);
    assert.ok(watched.length >= 8);
    // The JSON API is unchanged: no page headers on it.
    const res = await fetch(`${stack.url}/v1/polls/${POLL}/results`);
    assert.equal(res.headers.get("content-security-policy"), null);
    assert.equal(res.headers.get("cross-origin-resource-policy"), null);
  });
});
