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
import { readQrCode } from "../test-support/qr-code.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The operator console in Chromium against the whole system: an invite signs in, a poll is
// made and a kiosk paired from the console, the kiosk app votes, the console shows the
// result; a school admin sees its school only; sign-out, revocation and CSRF are refused;
// the audit log lists what was done; axe-core finds no violation on any console page.

const WAIT_MS = 30_000;

describe("the operator console in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const watched: { name: string; problems: PageProblems }[] = [];
  const problemsOf = new WeakMap<Page, PageProblems>();

  const open = async (name: string, viewport?: { width: number; height: number }) => {
    const context = await newContext(browser, viewport);
    contexts.push(context);
    const page = await context.newPage();
    const problems = await watchPage(page);
    watched.push({ name, problems });
    problemsOf.set(page, problems);
    return page;
  };

  const invite = async (body: Record<string, unknown>) => {
    const { link } = (await stack.admin("POST", "/v1/console/invites", body, 201)) as {
      link: string;
    };
    return link.replace(/^https?:\/\/[^/]+/, stack.url);
  };

  /** axe-core on the page as it stands (test-support/axe.ts). */
  const audit = (page: Page, what: string) =>
    assertNoAxeViolations(page, problemsOf.get(page)!, what);

  /** A request from the page itself, with its cookie (and the CSRF token when given). */
  const fromPage = (page: Page, method: string, path: string, csrf = false) =>
    page.evaluate(
      async ([method, path, csrf]) => {
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (csrf) {
          const me = await (await fetch("/v1/console/session")).json();
          headers["X-CSRF-Token"] = me.csrfToken;
        }
        const res = await fetch(path as string, {
          method: method as string,
          headers,
          ...(method === "GET" ? {} : { body: "{}" }),
        });
        return { status: res.status, body: await res.json().catch(() => null) };
      },
      [method, path, csrf] as const,
    );

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    await stack.admin("POST", "/v1/schools", { id: "north", name: "North school" }, 201);
    await stack.admin("POST", "/v1/schools", { id: "south", name: "South school" }, 201);
  });

  after(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.close();
    for (const { name, problems } of watched) {
      assert.deepEqual(problems.pageErrors, [], `${name}: page errors`);
      assert.deepEqual(problems.csp(), [], `${name}: CSP violations`);
    }
  });

  test("invite → sign in → poll → pair a kiosk from its QR code → vote → live result → audit", async () => {
    const console = await open("deployment console", { width: 1280, height: 800 });
    const link = await invite({ label: "Ops desk" });
    await console.goto(link);
    await console.getByRole("link", { name: "Schools" }).waitFor();
    assert.equal(new URL(console.url()).hash, "#/polls", "the invite code left the address");
    await audit(console, "polls (empty)");

    // A poll, made in the console.
    await console.getByRole("button", { name: "New poll" }).click();
    const form = console.getByRole("dialog", { name: "New poll" });
    await form.getByLabel("Short name (in links)").fill("lunch");
    await form.getByLabel("Title").fill("Lunch today");
    await form.getByLabel("Options, one a line").fill("Pizza\nSalad");
    // The list behind the dialog refreshes every 3 s: what was typed stays.
    await console.waitForTimeout(3_500);
    assert.equal(await form.getByLabel("Title").inputValue(), "Lunch today");
    await audit(console, "the new poll dialog");
    await form.getByRole("button", { name: "Create poll" }).click();
    const card = console.locator('li[data-poll="lunch"]');
    await card
      .getByText("Lunch today")
      .waitFor()
      .catch(async (err: unknown) => {
        await console.screenshot({ path: screenshotPath("console-create-poll-failed") });
        throw err;
      });

    // A kiosk, made and paired from the console: the QR code holds the pairing URL.
    await console.getByRole("link", { name: "Kiosks" }).click();
    await console.getByRole("button", { name: "New kiosk" }).click();
    const kioskForm = console.getByRole("dialog", { name: "New kiosk" });
    await kioskForm.getByLabel("Short name (id)").fill("hall");
    await kioskForm.getByLabel("Name", { exact: true }).fill("Hall");
    await kioskForm.getByRole("button", { name: "Create and pair" }).click();
    const qr = console.getByRole("img", { name: /QR code to pair Hall/ });
    await qr.waitFor();
    const box = await qr.boundingBox();
    assert.ok(box && box.width >= 400, `the QR code fills the screen (${box?.width} px)`);
    await audit(console, "the pairing dialog");
    await console.screenshot({ path: screenshotPath("console-pairing") });
    assert.match(decodeURIComponent(String(await qr.getAttribute("src"))), /^data:image\/svg\+xml/);
    // Read from the pixels, as the kiosk's camera would: the code itself holds the URL.
    const pairUrl = readQrCode(await qr.screenshot());
    assert.equal(pairUrl, await qr.getAttribute("data-pair-url"));
    assert.match(pairUrl, /\/pair#code=/);
    await console.getByRole("button", { name: "Done" }).click();

    const kiosk = await open("kiosk");
    await kiosk.goto(pairUrl.replace(/^https?:\/\/[^/]+/, stack.url));
    await kiosk.waitForURL("**/vote");
    await kiosk.locator('#polls li[data-poll-id="lunch"] a').click();
    await kiosk.waitForURL("**/vote/lunch");
    const pizza = kiosk.getByRole("button", { name: "Pizza", exact: true });
    await eventually(
      "Pizza can be tapped",
      async () => (await pizza.getAttribute("aria-disabled")) === "false",
      {
        timeoutMs: WAIT_MS,
        intervalMs: 50,
      },
    );
    await pizza.click();
    await kiosk.locator("#thanks").getByText("your vote for Pizza is saved").waitFor();

    // The fleet shows the kiosk seen; the poll's live result reaches the console.
    await console
      .locator('tr[data-kiosk="hall"]')
      .getByText("online")
      .waitFor({ timeout: WAIT_MS });
    await audit(console, "kiosks");
    await console.screenshot({ path: screenshotPath("console-kiosks") });
    await console.getByRole("link", { name: "Polls" }).click();
    await eventually(
      "the console shows the vote",
      async () => (await card.locator(".results").getAttribute("data-total")) === "1",
      { timeoutMs: WAIT_MS },
    );
    await card.getByText("Pizza: 1").waitFor();
    await console.screenshot({ path: screenshotPath("console-polls") });
    await audit(console, "polls with results");

    await console.getByRole("link", { name: "Schools" }).click();
    await console.locator('tr[data-school="default"]').waitFor();
    await audit(console, "schools");
    await console.getByRole("button", { name: "Edit North school" }).click();
    const edit = console.getByRole("dialog", { name: "Edit North school" });
    await edit.getByLabel("Name").fill("North Academy");
    await audit(console, "the school dialog");
    await edit.getByRole("button", { name: "Save" }).click();
    await console.locator('tr[data-school="north"]').getByText("North Academy").waitFor();

    await console.getByRole("link", { name: "Audit log" }).click();
    for (const action of [
      "POST /v1/console/sessions",
      "POST /v1/polls",
      "POST /v1/kiosks",
      "POST /v1/kiosks/:id/pairing",
      "PATCH /v1/schools/:schoolId",
    ])
      await console.locator(`tr[data-action="${action}"]`).first().waitFor();
    await audit(console, "the audit log");
    await console.screenshot({ path: screenshotPath("console-audit") });

    // Phone, portrait: the polls view still fits its width.
    await console.setViewportSize({ width: 390, height: 844 });
    await console.getByRole("link", { name: "Polls" }).click();
    await card.waitFor();
    const overflow = await console.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow} px)`);
    await console.screenshot({ path: screenshotPath("console-phone") });
  });

  test("a school admin sees and reaches its own school only, in the UI and the API", async () => {
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: "quiz", schoolId: "south", title: "South quiz", options: [{ id: "a", label: "A" }] },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/kiosks",
      { id: "gate", schoolId: "south", name: "South gate" },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: "trip", schoolId: "north", title: "North trip", options: [{ id: "a", label: "A" }] },
      201,
    );
    const { polls } = (await stack.admin("GET", "/v1/polls?schoolId=south")) as {
      polls: { id: string }[];
    };
    const southPoll = polls[0]!.id;

    const page = await open("north admin");
    await page.goto(await invite({ schoolId: "north", label: "North office" }));
    await page.getByText("North trip").waitFor();
    assert.equal(await page.getByText("South quiz").count(), 0);
    assert.equal(await page.getByRole("link", { name: "Schools" }).count(), 0);
    await page.goto(`${stack.url}/console/#/schools`);
    await page.getByRole("heading", { name: "Polls" }).waitFor();
    await page.getByRole("link", { name: "Kiosks" }).click();
    await page.getByRole("button", { name: "New kiosk" }).waitFor();
    assert.equal(await page.getByText("South gate").count(), 0);
    await audit(page, "a school admin's kiosks");
    // Its own kiosk: made, then revoked.
    await page.getByRole("button", { name: "New kiosk" }).click();
    const kioskForm = page.getByRole("dialog", { name: "New kiosk" });
    await kioskForm.getByLabel("Short name (id)").fill("desk");
    await kioskForm.getByLabel("Name", { exact: true }).fill("Front desk");
    await kioskForm.getByRole("button", { name: "Create and pair" }).click();
    await page.getByRole("img", { name: /QR code to pair Front desk/ }).waitFor();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByRole("button", { name: "Revoke Front desk" }).click();
    await page
      .locator('tr[data-kiosk="north-desk"], tr[data-kiosk^="desk"]')
      .getByText("revoked")
      .waitFor();

    // Its own poll, deleted after a confirmation that says what goes.
    await page.getByRole("link", { name: "Polls" }).click();
    await page.getByRole("button", { name: "Delete North trip" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete “North trip”?" });
    await confirm.getByText(/(all its|its \d+) votes and its results/).waitFor();
    await confirm.getByText("its place on every kiosk").waitFor();
    await audit(page, "the delete confirmation");
    await confirm.getByRole("button", { name: "Delete poll and its votes" }).click();
    await page.getByText("No polls yet.").waitFor();

    for (const path of [
      `/v1/polls/${southPoll}`,
      "/v1/schools/south",
      "/v1/polls?schoolId=south",
      "/v1/audit?schoolId=south",
    ])
      assert.equal((await fromPage(page, "GET", path)).status, 404, path);
    assert.equal((await fromPage(page, "DELETE", `/v1/polls/${southPoll}`, true)).status, 404);
  });

  test("CSRF, sign-out and a revoked session are refused", async () => {
    const page = await open("signed out");
    await page.goto(await invite({ schoolId: "north", label: "Temp" }));
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    const noToken = await fromPage(page, "POST", "/v1/console/invites");
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, "csrf_failed");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are not signed in").waitFor();
    await audit(page, "the signed-out page");
    assert.equal((await fromPage(page, "GET", "/v1/polls")).status, 401);

    const revoked = await open("revoked");
    await revoked.goto(await invite({ schoolId: "north", label: "To revoke" }));
    await revoked.getByRole("button", { name: "Sign out" }).waitFor();
    const { sessions } = (await stack.admin("GET", "/v1/console/sessions?schoolId=north")) as {
      sessions: { id: string; label: string }[];
    };
    const id = sessions.find((s) => s.label === "To revoke")!.id;
    await stack.admin("DELETE", `/v1/console/sessions/${id}`);
    assert.equal((await fromPage(revoked, "GET", "/v1/polls")).status, 401);
    // The page's next refresh finds it out and says so.
    await revoked.getByText("You are not signed in").waitFor({ timeout: WAIT_MS });

    const { entries } = (await stack.admin(
      "GET",
      "/v1/audit?action=DELETE%20/v1/console/sessions/:id",
    )) as {
      entries: { objectId: string }[];
    };
    assert.ok(entries.some((e) => e.objectId === id));
    const signOuts = (await stack.admin(
      "GET",
      "/v1/audit?action=DELETE%20/v1/console/session",
    )) as {
      entries: unknown[];
    };
    assert.ok(signOuts.entries.length >= 1);
  });
});
