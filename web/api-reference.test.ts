import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { launchChromium } from "../harness/chromium.ts";
import { REFERENCE_PAGE_PATH } from "../ingest-api/openapi/openapi-document.ts";
import { assertNoAxeViolations } from "../test-support/axe.ts";
import { newContext, screenshotPath, watchPage } from "../test-support/browser.ts";
import { type LocalServer, listenLocally } from "../test-support/http-listen.ts";
import { type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";

// The API reference page (/api, rendered on the server from /openapi.json) in Chromium:
// it loads under the pages' CSP, its links reach what they name, and axe-core finds no
// violation. The page needs the API alone (no writer, no publisher).

describe("the API reference page in Chromium", () => {
  let h: IngestHarness;
  let local: LocalServer;
  let browser: Browser;
  let context: BrowserContext;

  before(async () => {
    const [started, launched] = await Promise.allSettled([startIngestHarness(), launchChromium()]);
    if (started.status === "fulfilled") h = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    local = await listenLocally(h.app);
    context = await newContext(browser);
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await local?.close();
    await h?.close();
  });

  test("loads under the CSP, its links lead somewhere, and axe finds no violation", async () => {
    const page = await context.newPage();
    const problems = await watchPage(page);
    const res = await page.goto(`${local.url}${REFERENCE_PAGE_PATH}`);
    assert.equal(res?.status(), 200);
    // The stylesheet applied: the page is laid out by it, not the browser's defaults.
    const css = await page.evaluate(
      () => [...document.styleSheets].filter((s) => s.href?.endsWith("/api-reference.css")).length,
    );
    assert.equal(css, 1, "the stylesheet loaded");
    // Every in-page link names an element that exists; /openapi.json answers.
    const broken = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLAnchorElement>('a[href^="#"]')]
        .map((a) => a.getAttribute("href")!.slice(1))
        .filter((id) => document.getElementById(decodeURIComponent(id)) === null),
    );
    assert.deepEqual(broken, [], "in-page links without a target");
    const documentLink = page.getByRole("link", { name: "/openapi.json", exact: true });
    assert.equal(
      (await fetch(new URL((await documentLink.getAttribute("href"))!, local.url))).status,
      200,
    );
    // A response's details open by keyboard, as a reader without a mouse opens them.
    const first = page.locator("details summary").first();
    await first.focus();
    await page.keyboard.press("Enter");
    assert.equal(await page.locator("details").first().getAttribute("open"), "");
    await assertNoAxeViolations(page, problems, REFERENCE_PAGE_PATH);
    await page.screenshot({ path: screenshotPath("api-reference") });
    assert.deepEqual(problems.pageErrors, [], "page errors");
    assert.deepEqual(problems.csp(), [], "CSP violations");
  });
});
