import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { expectError } from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { BROWSER_MODULES } from "./kiosk-client-routes.ts";

describe("GET /kiosk-client/*.ts and /vendor/uuid/*.js", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness();
  });
  after(() => h?.close());

  test("every browser module is served as JavaScript with its types stripped", async () => {
    for (const file of BROWSER_MODULES) {
      const res = await request(h.app).get(`/kiosk-client/${file}`).expect(200);
      assert.match(String(res.headers["content-type"]), /^text\/javascript/);
      assert.equal(res.headers["x-content-type-options"], "nosniff");
      assert.doesNotMatch(res.text, /^import type|^export (interface|type) /m, file);
    }
    const outbox = await request(h.app).get("/kiosk-client/outbox.ts").expect(200);
    assert.match(outbox.text, /export function createOutbox\(options\s*\)/);
    const eventId = await request(h.app).get("/kiosk-client/event-id.ts").expect(200);
    assert.match(eventId.text, /from "\/vendor\/uuid\/index\.js"/);
    assert.doesNotMatch(eventId.text, /from "uuid"/);
  });

  test("an ETag, and 304 when it matches", async () => {
    const res = await request(h.app).get("/kiosk-client/sender.ts").expect(200);
    const etag = String(res.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    assert.equal(res.headers["cache-control"], "no-cache");
    await request(h.app).get("/kiosk-client/sender.ts").set("If-None-Match", etag).expect(304);
    await request(h.app)
      .get("/kiosk-client/sender.ts")
      .set("If-None-Match", `"other", W/${etag}`)
      .expect(304);
    await request(h.app).get("/kiosk-client/sender.ts").set("If-None-Match", '"other"').expect(200);
  });

  test("only the allow-list: never the Node journal, nothing outside the folder", async () => {
    for (const path of [
      "/kiosk-client/store-file.ts",
      "/kiosk-client/outbox.test.ts",
      "/kiosk-client/README.md",
      "/kiosk-client/..%2Fcommon%2Fconfig.ts",
      "/vendor/uuid/uuid-bin.js",
      "/vendor/uuid/index.d.ts",
    ])
      expectError(await request(h.app).get(path), 404, "route_not_found");
  });

  test("uuid's browser build, its modules importable relative to each other", async () => {
    const index = await request(h.app).get("/vendor/uuid/index.js").expect(200);
    assert.match(String(index.headers["content-type"]), /^text\/javascript/);
    for (const [, file] of index.text.matchAll(/from '\.\/([\w]+\.js)'/g))
      await request(h.app).get(`/vendor/uuid/${file}`).expect(200);
    const rng = await request(h.app).get("/vendor/uuid/rng.js").expect(200);
    assert.match(rng.text, /crypto\.getRandomValues/);
  });
});
