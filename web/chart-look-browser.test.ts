import assert from "node:assert/strict";
import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import type { Browser } from "playwright-core";
import { OTHER_COLOR } from "../common/browser/chart-look.js";
import type { VisibleResults } from "../common/results-contract.ts";
import { launchChromium } from "../harness/chromium.ts";
import { REPO_ROOT as ROOT } from "../harness/repo-root.ts";
import { eventually } from "../harness/waiting.ts";
import { newContext, screenshotPath, watchPage } from "../test-support/browser.ts";
import { startWebStack, type WebStack } from "../test-support/web-stack.ts";

// One chart look: a 12-option poll's PNG (drawn by the result publisher) and its dashboard
// (Chart.js in Chromium) give every option the same colour. The colours are read from what
// was drawn (the PNG's pixels, the dashboard canvas's pixels), not from the shared module,
// so two palettes, or one side indexing it differently, fail here.
// WRITE_DOCS_IMAGES=1 also saves both pictures as docs/chart-12-options.png and
// docs/dashboard-12-options.png.

const POLL = "lunch12";
const LABELS = [
  "Pizza",
  "Salad",
  "Soup of the day",
  "Curry",
  "Noodles",
  "Tacos",
  "Sushi",
  "Burger",
  "Falafel",
  "Pasta",
  "Dumplings",
  "Sandwich",
];
const OPTIONS = LABELS.map((label, i) => ({ id: `o${i}`, label }));
// More votes to later options: the distribution draws options 3-11 one by one (their
// colours wrap round to the first ones) and 0-2 as "Other".
const VOTES_OF = (i: number) => 6 + i;
const MINUTE = 60_000;

type Rgb = [number, number, number];
const hex = ([r, g, b]: Rgb) =>
  `#${[r, g, b].map((c) => c.toString(16).padStart(2, "0").toUpperCase()).join("")}`;

/** The colour of a pixel, or undefined for white, greys and the near-black of text. */
function barPixel(data: Uint8ClampedArray, i: number): string | undefined {
  const rgb: Rgb = [data[i]!, data[i + 1]!, data[i + 2]!];
  if (Math.max(...rgb) - Math.min(...rgb) < 16 || Math.max(...rgb) < 0x40) return undefined;
  return hex(rgb);
}

/**
 * The colours of the horizontal bars in rows [from, to) of a picture, top to bottom: a bar
 * is at least 3 rows that each hold a run of 30 pixels of its colour. Text is thinner, and
 * a bar's anti-aliased edge (a blend with the background) is one row.
 */
function barColors(data: Uint8ClampedArray, width: number, [from, to]: [number, number]) {
  const rowColors: (string | undefined)[] = [];
  for (let y = from; y < to; y++) {
    let found: string | undefined;
    for (let x = 0, run = 0, last: string | undefined; x < width && !found; x++) {
      const color = barPixel(data, (y * width + x) * 4);
      run = color !== undefined && color === last ? run + 1 : 1;
      last = color;
      if (color !== undefined && run >= 30) found = color;
    }
    rowColors.push(found);
  }
  const bars: string[] = [];
  for (let y = 0; y < rowColors.length; ) {
    let end = y;
    while (end < rowColors.length && rowColors[end] === rowColors[y]) end++;
    if (rowColors[y] !== undefined && end - y >= 3) bars.push(rowColors[y]!);
    y = end;
  }
  return bars;
}

/** Every colour drawn in rows [from, to) of a picture in runs of at least 3 pixels. */
function colorsIn(data: Uint8ClampedArray, width: number, [from, to]: [number, number]) {
  const colors = new Set<string>();
  for (let y = from; y < to; y++)
    for (let x = 2; x < width; x++) {
      const i = (y * width + x) * 4;
      const same = (j: number) =>
        data[j] === data[i] && data[j + 1] === data[i + 1] && data[j + 2] === data[i + 2];
      if (same(i - 4) && same(i - 8)) colors.add(hex([data[i]!, data[i + 1]!, data[i + 2]!]));
    }
  return colors;
}

describe("the chart look in the PNG and on the dashboard", () => {
  let stack: WebStack;
  let browser: Browser;
  let results: VisibleResults;

  before(async () => {
    // One after the other: after() closes whichever started, if the other did not.
    stack = await startWebStack(1_000);
    browser = await launchChromium();
    await stack.admin(
      "POST",
      "/v1/polls",
      { id: POLL, title: "Lunch, twelve ways", options: OPTIONS, timeZone: "Europe/London" },
      201,
    );
    // Spread over the last 50 minutes: several buckets in the distribution.
    const now = Date.now();
    const votes = OPTIONS.flatMap((o, i) =>
      Array.from({ length: VOTES_OF(i) }, (_, k) => ({
        pollId: POLL,
        optionId: o.id,
        castAt: new Date(
          now - 50 * MINUTE + ((k + 1) * 50 * MINUTE) / (VOTES_OF(i) + 1),
        ).toISOString(),
      })),
    );
    await stack.vote(votes);
    const published = await stack.published(POLL, votes.length);
    assert.ok(!published.hidden);
    results = published;
  });

  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  test("each of 12 options has the same colour in the PNG and on the dashboard", async () => {
    // The PNG through the API: its first read queues it, the publisher draws it.
    const png = await eventually(
      "the PNG is drawn",
      async () => {
        const res = await fetch(`${stack.url}/v1/polls/${POLL}/results.png`);
        return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const image = await loadImage(png);
    const canvas = createCanvas(image.width, image.height);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(image, 0, 0);
    const { data } = ctx.getImageData(0, 0, image.width, image.height);
    // The totals are the top 45% of the picture, one bar per option in option order.
    const pngTotals = barColors(data, image.width, [0, Math.round(image.height * 0.45)]);
    assert.equal(pngTotals.length, OPTIONS.length, `PNG bars: ${pngTotals.join(" ")}`);

    const context = await newContext(browser);
    const page = await context.newPage();
    const problems = await watchPage(page);
    await page.goto(`${stack.url}/dashboard/${POLL}`);
    const drawn = `(() => {
      const chart = Chart.getChart(document.getElementById("totals-chart"));
      return chart?.data.datasets[0]?.data.length === ${OPTIONS.length} &&
        Chart.getChart(document.getElementById("distribution-chart")) !== undefined;
    })()`;
    await eventually("the dashboard draws its charts", async () =>
      (await page.evaluate<boolean>(drawn)) ? true : undefined,
    );
    // The middle of each totals bar as the canvas has it (device pixels).
    const pageTotals = await page.evaluate<string[]>(`(() => {
      const canvas = document.getElementById("totals-chart");
      const chart = Chart.getChart(canvas);
      const ctx = canvas.getContext("2d");
      const scale = canvas.width / canvas.getBoundingClientRect().width;
      return chart.getDatasetMeta(0).data.map((bar) => {
        const [r, g, b] = ctx.getImageData(
          Math.round(((bar.x + bar.base) / 2) * scale), Math.round(bar.y * scale), 1, 1).data;
        return "#" + [r, g, b].map((c) => c.toString(16).padStart(2, "0").toUpperCase()).join("");
      });
    })()`);
    assert.deepEqual(pageTotals, pngTotals, "option i: the same colour on both");
    assert.ok(new Set(pngTotals.slice(0, 9)).size === 9, "the first nine options differ");

    // The distribution: the leading options in their totals colour on both, Other in grey.
    const datasets = await page.evaluate<{ label: string; color: string }[]>(`
      Chart.getChart(document.getElementById("distribution-chart")).data.datasets
        .map((d) => ({ label: d.label, color: String(d.backgroundColor).toUpperCase() }))`);
    const leading = OPTIONS.slice(3);
    assert.deepEqual(datasets, [
      ...leading.map((o) => ({ label: o.label, color: pageTotals[OPTIONS.indexOf(o)] })),
      { label: "Other (3 options)", color: OTHER_COLOR },
    ]);
    const pngLower = colorsIn(data, image.width, [Math.round(image.height * 0.45), image.height]);
    for (const d of datasets)
      assert.ok(pngLower.has(d.color), `the PNG's distribution draws ${d.label} in ${d.color}`);
    assert.deepEqual(problems.pageErrors, []);
    assert.deepEqual(problems.csp(), []);

    await page.screenshot({ path: screenshotPath("dashboard-12-options"), fullPage: true });
    await writeFile(screenshotPath("chart-12-options"), png);
    if (process.env.WRITE_DOCS_IMAGES === "1") {
      await copyFile(
        screenshotPath("chart-12-options"),
        join(ROOT, "docs", "chart-12-options.png"),
      );
      await copyFile(
        screenshotPath("dashboard-12-options"),
        join(ROOT, "docs", "dashboard-12-options.png"),
      );
    }
    assert.equal(results.options.length, OPTIONS.length);
    await context.close();
  });
});
