import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { v7 as uuidv7 } from "uuid";
import { encodeVoteMessage } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
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
import { makeVote } from "../test-support/vote-messages.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// The console's attendance, registers and dead letters views in Chromium against the whole
// system: check-ins sent by a kiosk are stored by the writer and published by the publisher,
// and the console shows the day's counts and its fever live, the week with a share-below
// filter, a person's days; an overdue register and its document (names beside the ids for the
// school's own admin); a dead letter listed and replayed from the page, its vote stored once,
// and Replay all confirmed in a dialog that says how many (Cancel and Escape replay nothing). axe-core finds no violation on each view,
// at 1280×800 and, for the attendance view, on a phone (390×844).

const WAIT_MS = 20_000;
const HOUR = 3_600_000;
const PEOPLE: [string, string][] = [
  ["A-1", "Ada Lovelace"],
  ["A-2", "Alan Turing"],
  ["A-3", "Grace Hopper"],
  ["A-4", "Edsger Dijkstra"],
];

interface DayDocument {
  counts: Record<string, number>;
}

/** An IANA fixed-offset zone (Etc/GMT±N: the sign is POSIX's, inverted) where it is 12:00-12:59 now. */
function zoneAtNoon(now = new Date()): string {
  const east = 12 - now.getUTCHours(); // -11 … +12 hours from UTC
  return east === 0 ? "Etc/GMT" : `Etc/GMT${east > 0 ? "-" : "+"}${Math.abs(east)}`;
}

describe("the console's attendance, registers and dead letters in Chromium", () => {
  let stack: WebStack;
  let browser: Browser;
  let kioskAuth: { Authorization: string };
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
    return page;
  };

  /** axe-core on the page as it stands (test-support/axe.ts). */
  const audit = (page: Page, what: string) =>
    assertNoAxeViolations(page, problemsOf.get(page)!, what);

  const signedIn = async (
    name: string,
    viewport: { width: number; height: number },
    schoolId?: string,
  ) => {
    const page = await open(name, viewport);
    const { link } = (await stack.admin(
      "POST",
      "/v1/console/invites",
      { label: name, ...(schoolId ? { schoolId } : {}) },
      201,
    )) as { link: string };
    await page.goto(link.replace(/^https?:\/\/[^/]+/, stack.url));
    await page.getByRole("link", { name: "Attendance" }).waitFor();
    return page;
  };

  const send = async (votes: Record<string, unknown>[]) => {
    const res = await fetch(`${stack.url}/v1/votes/batch`, {
      method: "POST",
      headers: { ...kioskAuth, "Content-Type": "application/json" },
      body: JSON.stringify({ votes }),
    });
    const body = (await res.json()) as { accepted: number };
    assert.equal(body.accepted, votes.length, JSON.stringify(body));
  };

  before(async () => {
    const [started, launched] = await Promise.allSettled([startWebStack(1_000), launchChromium()]);
    if (started.status === "fulfilled") stack = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    // The school's day must be live while the test runs (a check-in without a check-out is
    // "in now" only before the day ends, at 17:00 local by default): a fixed-offset zone
    // where it is about noon now, whatever the hour of the run.
    await stack.admin("PATCH", "/v1/schools/default", { timeZone: zoneAtNoon() }, 200);
    for (const [id, name] of PEOPLE)
      await stack.admin("PUT", `/v1/schools/default/people/${id}`, { name, groups: ["7A"] }, 201);
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: "door", kind: "attendance", title: "Main door", voteCooldownMs: 0 },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/polls",
      {
        id: "maths",
        kind: "register",
        title: "Maths",
        groupId: "7A",
        startsAt: new Date(Date.now() - 3 * HOUR).toISOString(),
        endsAt: new Date(Date.now() - 2 * HOUR).toISOString(),
      },
      201,
    );
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: "lunch", title: "Lunch", options: [{ id: "pizza", label: "Pizza" }] },
      201,
    );
    const kiosk = (await stack.admin(
      "POST",
      "/v1/kiosks",
      { id: "office", name: "Office kiosk" },
      201,
    )) as { token: string };
    kioskAuth = { Authorization: `Bearer ${kiosk.token}` };
    await eventually("the API knows the pupils", () =>
      PEOPLE.every(([id]) => stack.harness.people.has("default", id)),
    );
    // Three in (one with a fever), one never came; one absence marked in the lesson.
    await send([
      { pollId: "door", optionId: "in", voterId: "A-1" },
      { pollId: "door", optionId: "in", voterId: "A-2", temperatureC: 38.9 },
      { pollId: "door", optionId: "in", voterId: "A-3" },
    ]);
    await send([{ pollId: "maths", optionId: "absent", voterId: "A-4" }]);
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

  test("attendance: today's counts and the fever live, the week filtered, a person's days", async () => {
    await eventually(
      "the day published with the fever",
      async () => {
        const res = await fetch(`${stack.url}/v1/schools/default/attendance`, { headers: ADMIN });
        return res.status === 200 && ((await res.json()) as DayDocument).counts.fever === 1;
      },
      { timeoutMs: WAIT_MS },
    );
    const page = await signedIn("attendance desktop", { width: 1280, height: 800 });
    await page.goto(`${stack.url}/console/#/attendance`);
    const count = (k: string) => page.locator(`[data-count="${k}"] strong`);
    await page.locator('[data-list="fever"]').getByText("A-2").waitFor({ timeout: WAIT_MS });
    assert.equal(await count("inNow").innerText(), "3");
    assert.equal(await count("fever").innerText(), "1");
    assert.equal(await count("roster").innerText(), "4");
    assert.match(await page.locator('[data-list="fever"]').innerText(), /38\.9 °C/);
    // Held open on the day's event stream (the session's cookie), not polled.
    let status = "";
    await eventually(
      "the day is live",
      async () => {
        status = await page.locator("p.day-status").innerText();
        return / · live · /.test(status);
      },
      { timeoutMs: WAIT_MS },
    ).catch(() => assert.fail(`the day is not live: the page says "${status}"`));
    await audit(page, "attendance, today");

    // Live: a check-out comes in while the page is open; the count follows without a reload.
    await send([{ pollId: "door", optionId: "out", voterId: "A-3" }]);
    await eventually(
      "in now follows the check-out",
      async () => (await count("inNow").innerText()) === "2",
      {
        timeoutMs: WAIT_MS,
      },
    );

    // A person's days, from a click on the person.
    await page.locator('[data-list="fever"]').getByRole("button", { name: "A-2" }).click();
    const days = page.getByRole("dialog");
    await days.getByText(/school days/).waitFor();
    await audit(page, "attendance, a person's days");
    await days.getByRole("button", { name: "Close" }).click();

    // The week, then only those below a share.
    await page.getByLabel("Show").selectOption("week");
    await page.locator("tr[data-person]").first().waitFor();
    const week = (await stack.admin(
      "GET",
      `/v1/schools/default/attendance?period=week&date=${await page.evaluate("new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10)")}`,
    )) as { items: { id: string; share: number }[] };
    assert.equal(await page.locator("tr[data-person]").count(), week.items.length);
    await page.getByLabel("Share below (%)").fill("50");
    const below = week.items
      .filter((p) => p.share < 0.5)
      .map((p) => p.id)
      .sort();
    await eventually("the filter keeps those below 50 %", async () => {
      const shown = await page
        .locator("tr[data-person]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-person")));
      return JSON.stringify(shown.sort()) === JSON.stringify(below);
    });
    assert.ok(below.includes("A-4"), "the pupil who never came is below 50 %");
    await audit(page, "attendance, the week filtered");

    await page.screenshot({ path: screenshotPath("console-attendance-week") });

    // The school's own admin, on a phone: names (the deployment admin saw ids), and no dead
    // letters (the deployment admin's: the link is not there, the address shows the polls).
    const phone = await signedIn("attendance phone", { width: 390, height: 844 }, "default");
    await phone.goto(`${stack.url}/console/#/attendance`);
    await phone
      .locator('[data-list="fever"]')
      .getByRole("button", { name: "Alan Turing" })
      .waitFor({ timeout: WAIT_MS });
    await audit(phone, "attendance on a phone");
    await phone.screenshot({ path: screenshotPath("console-attendance-phone"), fullPage: true });
    assert.equal(await phone.getByRole("link", { name: "Dead letters" }).count(), 0);
    await phone.goto(`${stack.url}/console/#/dead-letters`);
    await phone.getByRole("heading", { name: "Polls", level: 1 }).waitFor();
  });

  test("registers: the overdue one listed, its document opened", async () => {
    const page = await signedIn("registers", { width: 1280, height: 800 });
    await page.goto(`${stack.url}/console/#/registers`);
    const row = page.locator('tr[data-register="maths"]');
    await row.waitFor({ timeout: WAIT_MS });
    assert.match(await row.innerText(), /Maths\s+7A/);
    await page.getByRole("heading", { name: "Statistics" }).waitFor();
    await audit(page, "registers");
    await row.getByRole("button", { name: "Maths" }).click();
    const doc = page.getByRole("dialog");
    await doc.locator('[data-list="absent"]').getByText("A-4").waitFor({ timeout: WAIT_MS });
    assert.match(await doc.innerText(), /not completed/);
    // The deployment admin reads ids only: no name beside them.
    assert.doesNotMatch(await doc.innerText(), /Edsger Dijkstra/);
    await page.screenshot({ path: screenshotPath("console-register") });
    await audit(page, "a register's document");

    // The school's own admin: the roster's names beside the ids.
    const school = await signedIn(
      "registers, the school's admin",
      { width: 1280, height: 800 },
      "default",
    );
    await school.goto(`${stack.url}/console/#/registers`);
    await school
      .locator('tr[data-register="maths"]')
      .getByRole("button", { name: "Maths" })
      .click();
    const named = school.getByRole("dialog").locator('[data-list="absent"] [data-person="A-4"]');
    await named.getByText("Edsger Dijkstra").waitFor({ timeout: WAIT_MS });
    assert.match(await named.innerText(), /Edsger Dijkstra\s+A-4/);
    await audit(school, "a register's document, with names");
  });

  test("dead letters: one listed and replayed from the page, its vote stored once", async () => {
    /** A dead letter of one vote (its store refused by a trigger), as the writer would leave it. */
    const deadLetter = async () => {
      const vote = makeVote({ pollId: "lunch", optionId: "pizza", kioskId: "office" });
      const { rows } = await stack.harness.db.pool.query<{ id: string }>(
        `insert into dead_letters (stream, stream_seq, item_index, subject, raw, error, deliveries, reason, msg_id)
         values ($1, 7, -1, $2, $3, 'P0001: a trigger refused it', 5, 'store_failed', $4) returning id`,
        [
          stack.harness.names.streamName,
          voteSubject(stack.harness.names.subjectPrefix, "lunch"),
          Buffer.from(encodeVoteMessage([vote])),
          uuidv7(),
        ],
      );
      return { vote, id: String(rows[0]!.id) };
    };
    const { vote, id } = await deadLetter();
    const page = await signedIn("dead letters", { width: 1280, height: 800 });
    await page.getByRole("link", { name: "Dead letters" }).click();
    const row = page.locator(`tr[data-dead-letter="${id}"]`);
    await row.waitFor({ timeout: WAIT_MS });
    assert.match(await row.innerText(), /store failed/);
    assert.match(await row.innerText(), /a trigger refused it/);
    await audit(page, "dead letters");
    await page.screenshot({ path: screenshotPath("console-dead-letters") });
    await row.getByRole("button", { name: `Replay dead letter ${id}` }).click();
    await page
      .getByRole("status")
      .filter({ hasText: `Dead letter ${id} replayed` })
      .waitFor();
    await row.waitFor({ state: "detached" });
    const stored = async (eventId: string) =>
      (
        await stack.harness.db.pool.query<{ n: number }>(
          "select count(*)::int as n from votes where event_id = $1",
          [eventId],
        )
      ).rows[0]!.n;
    await eventually("the replayed vote stored", async () => (await stored(vote.eventId)) === 1, {
      timeoutMs: WAIT_MS,
    });

    // Replay all asks first, saying how many: one more is pending now.
    const second = await deadLetter();
    const replayAll = page.getByRole("button", { name: /Replay all pending/ });
    const confirm = page.getByRole("dialog", { name: "Replay all pending dead letters?" });
    const pendingOf = async (letter: string) =>
      (
        await stack.harness.db.pool.query<{ replayed_at: Date | null }>(
          "select replayed_at from dead_letters where id = $1",
          [letter],
        )
      ).rows[0]!.replayed_at;
    await replayAll.click();
    await confirm
      .getByText("1 pending dead letter will be published to the votes stream again.")
      .waitFor({ timeout: WAIT_MS });
    await audit(page, "dead letters, replay all confirmation");
    // Cancel replays nothing; focus is back on the button that opened the dialog.
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    await eventually("focus back on Replay all", () =>
      replayAll.evaluate((b) => b === document.activeElement),
    );
    assert.equal(await pendingOf(second.id), null, "Cancel replays nothing");
    assert.doesNotMatch(await page.getByRole("status").innerText(), /dead letters? replayed/);
    // Escape cancels as well.
    await replayAll.click();
    await confirm.getByText(/1 pending dead letter/).waitFor({ timeout: WAIT_MS });
    await page.keyboard.press("Escape");
    await confirm.waitFor({ state: "detached" });
    assert.equal(await pendingOf(second.id), null, "Escape replays nothing");

    // Confirmed: the pending one is replayed, nothing counts twice.
    await replayAll.click();
    await confirm.getByText(/1 pending dead letter/).waitFor({ timeout: WAIT_MS });
    await confirm.getByRole("button", { name: "Replay them" }).click();
    await page.getByRole("status").filter({ hasText: "1 dead letter replayed" }).waitFor();
    assert.notEqual(await pendingOf(second.id), null);
    await eventually(
      "the second vote stored",
      async () => (await stored(second.vote.eventId)) === 1,
      {
        timeoutMs: WAIT_MS,
      },
    );
    assert.equal(await stored(vote.eventId), 1);
    await eventually("focus back on Replay all", () =>
      replayAll.evaluate((b) => b === document.activeElement),
    );
    await audit(page, "dead letters, replayed");
  });
});
