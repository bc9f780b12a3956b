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
import {
  type KioskCredentials,
  queuedEventIds,
  storeCredentials,
} from "../test-support/kiosk-app.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The voting page's check-in mode (an attendance register) in Chromium against the whole
// system: a badge scan shows the person's state (the API's "already checked in" answer, or
// what the page queued itself) and offers the other action; a temperature is checked for
// its form on the page and for the school's range by the API, whose 422 the page shows;
// offline, check-ins wait in the same outbox as votes and are stored once when back.

const WAIT_MS = 30_000;
const PEOPLE = ["B-1", "B-2", "B-3", "B-4", "B-9"];

interface StoredEvent {
  event_id: string;
  option_id: string;
  voter_id: string;
}

describe("the kiosk app's check-in mode in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  let kiosk: KioskCredentials;
  let register: string;
  const contexts: BrowserContext[] = [];
  const watched: { name: string; problems: PageProblems }[] = [];
  /** The bodies of every batch the pages sent. */
  const batches: { votes: { eventId: string; voterId: string; temperatureC?: number }[] }[] = [];

  const stored = async () => {
    const { rows } = await stack.harness.db.pool.query<StoredEvent>(
      "select event_id::text, option_id, voter_id from votes where poll_id = $1 order by cast_at",
      [register],
    );
    return rows;
  };
  const storedCount = (n: number) =>
    eventually(`${n} check-ins stored`, async () => (await stored()).length >= n, {
      timeoutMs: WAIT_MS,
    });

  const problemsOf = new WeakMap<Page, PageProblems>();

  const openPage = async (name: string) => {
    const context = await newContext(browser);
    contexts.push(context);
    const page = await context.newPage();
    const problems = await watchPage(page);
    watched.push({ name, problems });
    problemsOf.set(page, problems);
    page.on("request", (req) => {
      if (req.method() === "POST" && req.url().endsWith("/v1/votes/batch"))
        batches.push(JSON.parse(req.postData() ?? "{}"));
    });
    await page.goto(`${stack.url}/vote`);
    await storeCredentials(page, kiosk);
    await page.goto(`${stack.url}/vote/${register}`);
    await page.getByRole("button", { name: "Check in", exact: true }).waitFor();
    return { page, context };
  };

  const waitPending = (page: Page, n: number) =>
    eventually(
      `the page shows ${n} waiting`,
      async () =>
        (await page.locator("#st-waiting").getAttribute("data-pending", { timeout: 2_000 })) ===
        String(n),
      { timeoutMs: WAIT_MS },
    );

  /** Types a badge as a scanner does (the id, then Enter); resolves with the state shown. */
  const scan = async (page: Page, badge: string) => {
    const field = page.getByLabel("Badge — scan it or type the ID");
    await field.fill("");
    await field.focus();
    await page.keyboard.type(`${badge}\n`);
    const state = page.locator("#person-state");
    return eventually(
      `the state of ${badge} is shown`,
      async () => {
        const text = await state.innerText();
        return text.startsWith(badge) && !text.endsWith("looking up…") ? text : undefined;
      },
      { timeoutMs: WAIT_MS },
    );
  };

  const focused = (page: Page) => page.evaluate(() => document.activeElement?.textContent ?? "");
  const suggested = (page: Page) =>
    page.locator('.vote-option[data-suggested="true"]').allInnerTexts();
  const thanks = (page: Page, text: RegExp) =>
    page.locator("#thanks").filter({ hasText: text }).waitFor({ timeout: WAIT_MS });

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    for (const id of PEOPLE)
      await stack.admin("PUT", `/v1/schools/default/people/${id}`, { name: `Pupil ${id}` }, 201);
    const created = (await stack.admin(
      "POST",
      "/v1/polls",
      { id: "door", kind: "attendance", title: "Main door", voteCooldownMs: 0 },
      201,
    )) as { id: string };
    register = created.id;
    const made = (await stack.admin(
      "POST",
      "/v1/kiosks",
      { id: "door-kiosk", name: "Door kiosk" },
      201,
    )) as { token: string };
    kiosk = { kioskId: "door-kiosk", name: "Door kiosk", token: made.token };
    await eventually("the API knows the pupils", () =>
      PEOPLE.every((id) => stack.harness.people.has("default", id)),
    );
  });

  after(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.close();
  });

  test("scan, the state and the action offered, check in, then check out from the server's state", async () => {
    const { page } = await openPage("check-in");
    assert.ok(await page.getByLabel("Temperature in °C (optional)").isVisible());
    assert.ok(await page.getByRole("button", { name: "Check out", exact: true }).isVisible());

    // Nobody yet: the scan says so and offers Check in; Enter checks in.
    assert.equal(await scan(page, "B-1"), "B-1 has not checked in today.");
    assert.deepEqual(await suggested(page), ["Check in"]);
    assert.equal(await focused(page), "Check in");
    await page.keyboard.press("Enter");
    await thanks(page, /^B-1 checked in at \d\d:\d\d\.$/);
    await waitPending(page, 0);
    await storedCount(1);
    assert.equal(await focused(page), "", "the badge field is ready for the next scan");

    // Another kiosk page (nothing queued there): the API's state, so Check out is offered.
    const other = await openPage("check-in-other");
    assert.match(await scan(other.page, "B-1"), /^B-1 is checked in since \d\d:\d\d\.$/);
    assert.deepEqual(await suggested(other.page), ["Check out"]);
    assert.equal(await focused(other.page), "Check out");
    // A temperature: two decimals are refused on the page, one is sent; Enter in the field
    // does the offered action.
    const temperature = other.page.getByLabel("Temperature in °C (optional)");
    await temperature.fill("36.66");
    await temperature.press("Enter");
    await other.page.getByText("at most one decimal").waitFor();
    assert.equal(await temperature.getAttribute("aria-invalid"), "true");
    await assertNoAxeViolations(
      other.page,
      problemsOf.get(other.page)!,
      "check-in mode, a temperature refused on the page",
    );
    assert.equal((await queuedEventIds(other.page)).length, 0, "nothing queued");
    await temperature.fill("36,6");
    assert.equal(await other.page.locator("#temperature-error").isHidden(), true);
    await temperature.press("Enter");
    await thanks(other.page, /^B-1 checked out at \d\d:\d\d, 36\.6 °C\.$/);
    await waitPending(other.page, 0);
    await storedCount(2);
    const rows = await stored();
    assert.deepEqual(
      rows.map((r) => [r.voter_id, r.option_id]),
      [
        ["B-1", "in"],
        ["B-1", "out"],
      ],
    );
    const sent = batches.flatMap((b) => b.votes).find((v) => v.eventId === rows[1]!.event_id);
    assert.equal(sent?.temperatureC, 36.6, "the temperature went with the check-out");
    assert.match(await scan(page, "B-1"), /^B-1 checked out at \d\d:\d\d\.$/);
    assert.deepEqual(await suggested(page), ["Check in"]);
    await page.screenshot({ path: screenshotPath("check-in-state") });
    // A person's state shown, the suggested action marked, a thank-you on the other page.
    await assertNoAxeViolations(page, problemsOf.get(page)!, "check-in mode, a state shown");
    await assertNoAxeViolations(
      other.page,
      problemsOf.get(other.page)!,
      "check-in mode, after a check-out with a temperature",
    );
  });

  test("the API's 422 for a temperature out of the school's range, and a badge not on the roster", async () => {
    const { page } = await openPage("check-in-refused");
    await scan(page, "B-2");
    await page.getByLabel("Temperature in °C (optional)").fill("44.5");
    await page.getByRole("button", { name: "Check in", exact: true }).click();
    await thanks(page, /^B-2 checked in at \d\d:\d\d, 44\.5 °C\.$/);
    const banner = page.locator("#banner");
    await banner
      .filter({ hasText: "The check-in of B-2 was refused" })
      .waitFor({ timeout: WAIT_MS });
    assert.match(await banner.innerText(), /outside the school's range 28–43 °C/);
    await page.locator("#st-refused summary").click();
    assert.equal(
      await page.locator("#st-refused-list li").first().getAttribute("data-code"),
      "temperature_out_of_range",
    );
    // Refused: it never happened, so B-2 is still not checked in.
    assert.equal(await scan(page, "B-2"), "B-2 has not checked in today.");

    assert.equal(
      await scan(page, "NOBODY"),
      "NOBODY is not on this school's roster. Scan again or ask at the office.",
    );
    assert.deepEqual(await suggested(page), []);
    await page.getByRole("button", { name: "Check in", exact: true }).click();
    await banner.filter({ hasText: "NOBODY is not on this school's roster" }).waitFor();
    assert.equal((await queuedEventIds(page)).length, 0);
    await page.screenshot({ path: screenshotPath("check-in-refused") });
    // The refusals shown: the banner and the open list of refused check-ins.
    await assertNoAxeViolations(page, problemsOf.get(page)!, "check-in mode, refusals shown");
  });

  test("offline: check-ins wait in the outbox, the page remembers its own, and each is stored once when back", async () => {
    const { page, context } = await openPage("check-in-offline");
    const before = (await stored()).length;
    await context.setOffline(true);
    assert.match(await scan(page, "B-3"), /^B-3: today's state is not known right now/);
    assert.deepEqual(await suggested(page), []);
    await page.getByRole("button", { name: "Check in", exact: true }).click();
    await thanks(page, /^B-3 checked in at/);
    // What this page queued is known without the server: Check out is offered.
    assert.match(await scan(page, "B-3"), /^B-3 is checked in since \d\d:\d\d\.$/);
    await page.getByLabel("Temperature in °C (optional)").fill("37");
    await page.getByLabel("Temperature in °C (optional)").press("Enter");
    await thanks(page, /^B-3 checked out at \d\d:\d\d, 37\.0 °C\.$/);
    await scan(page, "B-4");
    await page.keyboard.press("Enter"); // the first action, Check in, has the focus
    await thanks(page, /^B-4 checked in at/);
    await waitPending(page, 3);
    assert.equal(await page.locator("#st-online").innerText(), "Offline");
    const ids = await queuedEventIds(page);
    assert.equal(ids.length, 3);
    assert.equal((await stored()).length, before, "nothing reached the server while offline");

    await context.setOffline(false);
    await waitPending(page, 0);
    await storedCount(before + 3);
    const rows = (await stored()).slice(before);
    assert.equal(rows.length, 3, "each stored once");
    assert.deepEqual(new Set(rows.map((r) => r.event_id)), new Set(ids));
    assert.deepEqual(
      rows.map((r) => [r.voter_id, r.option_id]),
      [
        ["B-3", "in"],
        ["B-3", "out"],
        ["B-4", "in"],
      ],
    );
    // The server's state now says the same.
    const fresh = await openPage("check-in-after");
    assert.match(await scan(fresh.page, "B-3"), /^B-3 checked out at \d\d:\d\d\.$/);
    assert.match(await scan(fresh.page, "B-4"), /^B-4 is checked in since \d\d:\d\d\.$/);
    assert.equal((await stored()).length, before + 3, "nothing stored twice");
  });

  test("layout at 800×480 and in portrait: badge, temperature, both actions and the status fit", async () => {
    // One page, resized and reloaded at each size: laid out from its load at that size.
    const { page } = await openPage("layout");
    for (const [width, height] of [
      [800, 480],
      [480, 800],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.reload();
      await page.getByRole("button", { name: "Check in", exact: true }).waitFor();
      await scan(page, "B-9");
      const boxes = [
        page.getByLabel("Badge — scan it or type the ID"),
        page.getByLabel("Temperature in °C (optional)"),
        page.locator("#person-state"),
        page.getByRole("button", { name: "Check in", exact: true }),
        page.getByRole("button", { name: "Check out", exact: true }),
        page.locator("#st-waiting"),
      ];
      for (const locator of boxes) {
        const b = await locator.boundingBox();
        assert.ok(b, `rendered at ${width}×${height}`);
        assert.ok(b.x >= 0 && b.x + b.width <= width, `fits across at ${width}×${height}`);
        assert.ok(b.y >= 0 && b.y + b.height <= height, `fits down at ${width}×${height}`);
      }
      for (const name of ["Check in", "Check out"]) {
        const b = await page.getByRole("button", { name, exact: true }).boundingBox();
        assert.ok(b && b.height >= 44 && b.width >= 44, `${name} is a big target`);
      }
      assert.equal(
        await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth),
        true,
        `no sideways scrolling at ${width}×${height}`,
      );
      await page.screenshot({ path: screenshotPath(`check-in-${width}x${height}`) });
    }
  });

  test("no page error and no CSP violation", () => {
    for (const { name, problems } of watched) {
      assert.deepEqual(problems.pageErrors, [], `${name}: page errors`);
      assert.deepEqual(problems.csp(), [], `${name}: CSP`);
    }
  });
});
