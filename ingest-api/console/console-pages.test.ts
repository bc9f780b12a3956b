import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// The console's page and its UI library, served as they are under the pages' CSP.

describe("the console's page", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness();
  });
  after(() => h?.close());

  test("/console redirects to /console/, served with the strict CSP and revalidated", async () => {
    const bare = await request(h.app).get("/console");
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.location, "/console/");
    const page = await request(h.app).get("/console/");
    assert.equal(page.status, 200);
    assert.match(page.text, /<script type="module" src="\/console\/assets\/app\.js">/);
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.headers["cache-control"], "no-cache");
    const app = await request(h.app).get("/console/assets/app.js");
    assert.equal(app.status, 200);
    assert.match(String(app.headers["content-type"]), /javascript/);
  });

  test("Preact and htm come from node_modules, with no bare import left", async () => {
    for (const path of [
      "/vendor/preact/preact.js",
      "/vendor/preact/hooks.js",
      "/vendor/htm/htm.js",
    ]) {
      const res = await request(h.app).get(path);
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers["content-type"]), /^text\/javascript/);
      assert.doesNotMatch(res.text, /from\s*["'][^./"'][^"']*["']/, `${path}: a bare import`);
      assert.doesNotMatch(res.text, /sourceMappingURL/);
    }
    const hooks = await request(h.app).get("/vendor/preact/hooks.js");
    assert.match(hooks.text, /from"\/vendor\/preact\/preact\.js"/);
    assert.equal((await request(h.app).get("/vendor/preact/nope.js")).status, 404);
    // The kiosk app's library under /vendor/ is still its route's.
    assert.equal((await request(h.app).get("/vendor/uuid/index.js")).status, 200);
  });
});
