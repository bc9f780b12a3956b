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
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The console's People page in Chromium against the whole system: a school admin imports a
// roster after a preview showing its two bad rows by line and column (nothing written until
// Apply), searches, edits a name, erases a person after a confirmation; the audit log lists
// the import and the erasure; the deployment admin picks a school and sees no names; axe-core
// finds no violation, at 1280×800 and on a phone in portrait.

// Lines 4 and 6 are bad: an id with a backslash, a group with spaces.
const ROSTER = [
  "id,name,groups",
  "p-0001,Ada Lovelace,7a;choir",
  "p-0002,Grace Hopper,7b",
  "bad\\id,Bad Row,7a",
  "p-0003,Alan Turing,7a",
  "p-0004,Edsger Dijkstra,7a;not a group",
  "p-0005,Barbara Liskov,",
].join("\n");

describe("the console's People page in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const watched: { name: string; problems: PageProblems }[] = [];
  const problemsOf = new WeakMap<Page, PageProblems>();

  const open = async (name: string, viewport = { width: 1280, height: 800 }) => {
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

  const roster = async (schoolId: string) => {
    const { rows } = await stack.harness.db.pool.query<{ id: string; name: string | null }>(
      "select id, name from people where school_id = $1 order by id",
      [schoolId],
    );
    return rows.map((r) => `${r.id}:${r.name ?? ""}`);
  };

  const audited = (action: string) =>
    eventually(`${action} in the audit log`, async () => {
      const { entries } = (await stack.admin(
        "GET",
        `/v1/audit?schoolId=north&action=${encodeURIComponent(action)}`,
      )) as { entries: { objectId: string; sessionId: string | null }[] };
      return entries.length > 0 ? entries : undefined;
    });

  const noSidewaysScroll = async (page: Page, what: string) => {
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `no sideways scrolling on a phone, ${what} (${overflow} px)`);
  };

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    await stack.admin("POST", "/v1/schools", { id: "north", name: "North school" }, 201);
    await stack.admin("POST", "/v1/schools", { id: "south", name: "South school" }, 201);
    await stack.admin("PUT", "/v1/schools/south/people/s-0001", { name: "South pupil" }, 201);
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

  test("import with a preview of its bad rows → apply → search → edit → erase → audit log", async () => {
    const page = await open("north admin");
    await page.goto(await invite({ schoolId: "north", label: "North office" }));
    await page.getByRole("link", { name: "People" }).click();
    await page.getByRole("heading", { name: "People" }).waitFor();
    await page.getByText("No people yet").waitFor();
    await audit(page, "people (empty)");

    // The preview: the counts and both bad rows with their line and column; nothing written.
    await page.getByRole("button", { name: "Import CSV" }).click();
    const dialog = page.getByRole("dialog", { name: "Import a roster" });
    await dialog.getByLabel("Roster file").setInputFiles({
      name: "roster.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(ROSTER),
    });
    const errors = dialog.getByRole("table", { name: /Errors \(2\)/ });
    await errors.waitFor();
    const lines = await errors
      .locator("tbody tr")
      .evaluateAll((rows) =>
        rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent?.trim())),
      );
    assert.deepEqual(
      lines.map(([line, field]) => `${line}:${field}`),
      ["4:id", "6:groups"],
    );
    assert.match(String(lines[0]![2]), /^must not contain control characters or backslash/);
    assert.match(String(lines[1]![2]), /^group 2 must be /);
    await dialog.getByText("4 added").waitFor();
    await dialog.getByText("2 rows with errors, left out").waitFor();
    assert.deepEqual(await roster("north"), [], "a preview writes nothing");
    await audit(page, "the import preview");
    await page.screenshot({ path: screenshotPath("console-people-import") });

    await dialog.getByRole("button", { name: "Apply: import 4 rows" }).click();
    const done = page.getByRole("dialog", { name: "Roster imported" });
    await done.getByText("4 added, 0 changed, 0 unchanged, 2 rows left out").waitFor();
    assert.deepEqual(await roster("north"), [
      "p-0001:Ada Lovelace",
      "p-0002:Grace Hopper",
      "p-0003:Alan Turing",
      "p-0005:Barbara Liskov",
    ]);
    await done.getByRole("button", { name: "Done" }).click();
    await page.locator('tr[data-person="p-0005"]').waitFor();
    assert.equal(await page.locator("tr[data-person]").count(), 4);
    assert.equal(await page.getByText("South pupil").count(), 0, "another school's people");
    const south = await page.evaluate(async () => (await fetch("/v1/schools/south/people")).status);
    assert.equal(south, 404, "another school's roster, through this session");

    // Search by name, then edit the name found.
    await page.getByLabel("Name or id").fill("grace");
    await page.getByLabel("Name or id").press("Enter");
    await eventually("one person found", async () =>
      (await page.locator("tr[data-person]").count()) === 1 ? true : undefined,
    );
    await page.locator('tr[data-person="p-0002"]').waitFor();
    // By keyboard: the dialog opens on its first field, Enter saves, focus comes back.
    await page.getByRole("button", { name: "Edit Grace Hopper (p-0002)" }).focus();
    await page.keyboard.press("Enter");
    const edit = page.getByRole("dialog", { name: "Edit Grace Hopper (p-0002)" });
    await edit.waitFor();
    await audit(page, "the edit dialog");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("name")), "name");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("Grace B. Hopper");
    await page.keyboard.press("Tab");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("7b staff");
    await page.keyboard.press("Enter");
    await page.locator('tr[data-person="p-0002"]').getByText("Grace B. Hopper").waitFor();
    await eventually("focus back on the Edit button", async () =>
      (await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))) ===
      "Edit Grace B. Hopper (p-0002)"
        ? true
        : undefined,
    );
    const { rows: edited } = await stack.harness.db.pool.query(
      "select name, groups from people where school_id = 'north' and id = 'p-0002'",
    );
    assert.deepEqual(edited, [{ name: "Grace B. Hopper", groups: ["7b", "staff"] }]);

    // By group; then the export link, through the session's cookie, holds the edit.
    await page.getByLabel("Name or id").fill("");
    await page.getByLabel("Group").fill("7a");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-person="p-0003"]').waitFor();
    await page.locator('tr[data-person="p-0002"]').waitFor({ state: "detached" });
    const exported = await page.evaluate(async () => {
      const link = document.querySelector<HTMLAnchorElement>("a[download]")!;
      const res = await fetch(link.href);
      return { type: res.headers.get("content-type"), text: await res.text() };
    });
    assert.match(String(exported.type), /^text\/csv/);
    assert.match(exported.text, /p-0002,Grace B\. Hopper,7b;staff/);

    // Erase, after a confirmation saying what is lost.
    await page.getByLabel("Group").fill("");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator('tr[data-person="p-0002"]').waitFor();
    await page.getByRole("button", { name: "Erase Alan Turing (p-0003)" }).click();
    const confirm = page.getByRole("dialog", { name: "Erase Alan Turing (p-0003)?" });
    await confirm.getByText("This cannot be undone").waitFor();
    await confirm.getByText(/moved to a random pseudonym/).waitFor();
    await audit(page, "the erase confirmation");
    await confirm.getByRole("button", { name: "Erase p-0003" }).click();
    await page.getByRole("status").getByText("Erased p-0003").waitFor();
    // The row that held the focus is gone: it is on the note saying what happened.
    await eventually("focus on the note", async () =>
      (await page.evaluate(() => document.activeElement?.getAttribute("role"))) === "status"
        ? true
        : undefined,
    );
    await page.locator('tr[data-person="p-0003"]').waitFor({ state: "detached" });
    assert.deepEqual(await roster("north"), [
      "p-0001:Ada Lovelace",
      "p-0002:Grace B. Hopper",
      "p-0005:Barbara Liskov",
    ]);
    await audit(page, "people");
    await page.screenshot({ path: screenshotPath("console-people") });

    // The audit log: the import once (the preview is not a change), the edit and the erasure,
    // each through this console session.
    const imports = await audited("POST /v1/schools/:schoolId/people/import");
    assert.equal(imports.length, 1, "the import, not its preview");
    assert.equal(imports[0]!.objectId, "north");
    const erasures = await audited("DELETE /v1/schools/:schoolId/people/:personId");
    assert.deepEqual(
      erasures.map((e) => e.objectId),
      ["p-0003"],
    );
    assert.ok(erasures[0]!.sessionId, "through the console session");
    await audited("PATCH /v1/schools/:schoolId/people/:personId");

    // Phone, portrait: the list and the import preview fit the width; axe again.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('tr[data-person="p-0005"]').waitFor();
    await noSidewaysScroll(page, "the list");
    await page.screenshot({ path: screenshotPath("console-people-phone-list") });
    await audit(page, "people on a phone");
    await page.getByRole("button", { name: "Import CSV" }).click();
    await page
      .getByRole("dialog", { name: "Import a roster" })
      .getByLabel("Roster file")
      .setInputFiles({ name: "roster.csv", mimeType: "text/csv", buffer: Buffer.from(ROSTER) });
    await page.getByRole("table", { name: /Errors \(2\)/ }).waitFor();
    await noSidewaysScroll(page, "the import preview");
    const dialogOverflow = await page
      .getByRole("dialog", { name: "Import a roster" })
      .evaluate((d) => d.scrollWidth - d.clientWidth);
    assert.ok(dialogOverflow <= 0, `the import dialog fits a phone (${dialogOverflow} px)`);
    await audit(page, "the import preview on a phone");
    await page.screenshot({ path: screenshotPath("console-people-phone") });
    // Escape cancels: nothing applied, focus back on Import CSV.
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await eventually("focus back on Import CSV", async () =>
      (await page.evaluate(() => document.activeElement?.textContent)) === "Import CSV"
        ? true
        : undefined,
    );
    assert.equal(
      ((await stack.admin("GET", "/v1/schools/north/people")) as { items: unknown[] }).items.length,
      3,
    );
  });

  test("the deployment admin picks a school, sees ids, not names, page by page", async () => {
    const rows = Array.from(
      { length: 45 },
      (_, i) => `t-${String(i).padStart(3, "0")},Pupil ${i},5c`,
    );
    const imported = await fetch(`${stack.url}/v1/schools/south/people/import`, {
      method: "POST",
      headers: { ...ADMIN, "Content-Type": "text/csv" },
      body: `id,name,groups\n${rows.join("\n")}\n`,
    });
    assert.equal(imported.status, 200, await imported.text());
    const page = await open("deployment admin");
    await page.goto(await invite({ label: "Ops desk" }));
    await page.getByRole("link", { name: "People" }).click();
    await page.getByText("No people yet").waitFor();
    await page.getByLabel("School").selectOption("north");
    await page.locator('tr[data-person="p-0001"]').waitFor();
    assert.equal(await page.getByText("Ada Lovelace").count(), 0, "no names");
    assert.equal(await page.getByRole("columnheader", { name: "Name" }).count(), 0);
    await page.getByLabel("School").selectOption("south");
    await page.getByText("People 1–20").waitFor();
    await page.locator('tr[data-person="s-0001"]').waitFor();
    assert.equal(await page.locator('tr[data-person="p-0001"]').count(), 0);
    assert.equal(await page.getByText("Pupil 1").count(), 0, "no names");
    await audit(page, "people for the deployment admin");
    const pager = page.getByRole("navigation", { name: "People pages" });
    await pager.getByRole("button", { name: "Next" }).click();
    await page.getByText("People 21–40").waitFor();
    await pager.getByRole("button", { name: "Next" }).click();
    // s-0001 and the 45 imported, in id order: the last page holds t-039…t-044.
    await page.getByText("People 41–46").waitFor();
    await page.locator('tr[data-person="t-044"]').waitFor();
    assert.equal(await pager.getByRole("button", { name: "Next" }).isDisabled(), true);
    await pager.getByRole("button", { name: "Previous" }).click();
    await page.getByText("People 21–40").waitFor();
    await page.locator('tr[data-person="t-020"]').waitFor();
    // An id search: ids start with it.
    await page.getByLabel("Id starts with").fill("t-04");
    await page.getByLabel("Id starts with").press("Enter");
    await eventually("t-040…t-044 found", async () =>
      (await page.locator("tr[data-person]").count()) === 5 ? true : undefined,
    );
  });
});
