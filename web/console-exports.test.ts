import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import type { Browser, BrowserContext } from "playwright-core";
import request from "supertest";
import { launchChromium } from "../harness/chromium.ts";
import { newContext, type PageProblems, watchPage } from "../test-support/browser.ts";
import { type LocalServer, listenLocally } from "../test-support/http-listen.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { createSchool } from "../test-support/schools.ts";

// The console's export links in Chromium: a school admin signed in by invite downloads a
// poll's votes and results from the polls view (its session's cookie, no token), and the
// files saved are the same rows SQL reads from the votes.

describe("the console's CSV downloads in Chromium", () => {
  let h: IngestHarness;
  let local: LocalServer;
  let browser: Browser;
  let context: BrowserContext;
  let problems: PageProblems;
  let pollId: string;

  before(async () => {
    const [started, launched] = await Promise.allSettled([startIngestHarness(), launchChromium()]);
    if (started.status === "fulfilled") h = started.value;
    if (launched.status === "fulfilled") browser = launched.value;
    if (started.status === "rejected") throw started.reason;
    if (launched.status === "rejected") throw launched.reason;
    local = await listenLocally(h.app);
    await createSchool(h.app, "north");
    const made = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "lunch",
        schoolId: "north",
        title: "Lunch",
        options: [
          { id: "pizza", label: "Pizza" },
          { id: "soup", label: "=Soup" },
        ],
      });
    assert.equal(made.status, 201, made.text);
    pollId = made.body.id;
    // 40 stored votes and their rollups, as the writer keeps them.
    await h.db.pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
       select (md5(random()::text || n)::uuid), $1, case when n % 4 = 0 then 'soup' else 'pizza' end,
         'hall', 'v-' || n, now() - n * interval '1 minute', now(), n
       from generate_series(1, 40) n`,
      [pollId],
    );
    await h.db.pool.query(
      `insert into vote_rollups (poll_id, option_id, bucket_start, count)
       select poll_id, option_id, rollup_bucket_start(cast_at), count(*) from votes
       where poll_id = $1 group by 1, 2, 3`,
      [pollId],
    );
  });
  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await local?.close();
    await h?.close();
    if (problems) assert.deepEqual(problems.pageErrors, [], "page errors");
  });

  test("Download votes CSV and Download results CSV save what SQL reads", async () => {
    const invite = await request(h.app)
      .post("/v1/console/invites")
      .set(ADMIN)
      .send({ schoolId: "north", label: `Office ${randomUUID().slice(0, 4)}` });
    assert.equal(invite.status, 201, invite.text);
    context = await newContext(browser);
    const page = await context.newPage();
    problems = await watchPage(page);
    await page.goto(String(invite.body.link).replace(/^https?:\/\/[^/]+/, local.url));
    const card = page.locator(`li[data-poll="${pollId}"]`);
    await card.waitFor();

    const save = async (name: string) => {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        card.getByRole("link", { name }).click(),
      ]);
      return {
        filename: download.suggestedFilename(),
        text: await readFile(await download.path(), "utf8"),
      };
    };

    const votes = await save("Download votes CSV of Lunch");
    assert.equal(votes.filename, `${pollId}-votes.csv`);
    const { rows } = await h.db.pool.query(
      `select v.event_id::text, v.option_id, o.label, v.cast_at, v.kiosk_id, v.voter_id
       from votes v join poll_options o on o.poll_id = v.poll_id and o.id = v.option_id
       where v.poll_id = $1 order by v.cast_at, v.event_id`,
      [pollId],
    );
    const saved = parse(votes.text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      saved.map((r) => [
        r.event_id,
        r.option_id,
        r.option_label,
        r.cast_at,
        r.kiosk_id,
        r.voter_id,
      ]),
      rows.map((r) => [
        r.event_id,
        r.option_id,
        r.label.startsWith("=") ? `'${r.label}` : r.label,
        r.cast_at.toISOString(),
        r.kiosk_id,
        r.voter_id,
      ]),
    );

    const results = await save("Download results CSV of Lunch");
    assert.equal(results.filename, `${pollId}-results.csv`);
    assert.equal(results.text, "option_id,option_label,votes\npizza,Pizza,30\nsoup,'=Soup,10\n");
  });
});
