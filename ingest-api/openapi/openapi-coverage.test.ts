import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { Express } from "express";
import request from "supertest";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OPENAPI_PATH, type OpenApiDocument, REFERENCE_PAGE_PATH } from "./openapi-document.ts";
import { openApiPath } from "./route-parts.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

// Every route the app registers is in /openapi.json (a route added without its description
// fails here), and the document describes no route the app does not have.

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD /openapi/path` of every route of the app, read from its routers. */
function appRoutes(app: Express): Set<string> {
  const routes = new Set<string>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== "_all") routes.add(`${method.toUpperCase()} ${openApiPath(path)}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}

function documentRoutes(document: OpenApiDocument): Set<string> {
  const routes = new Set<string>();
  for (const [path, item] of Object.entries(document.paths ?? {}))
    for (const method of ["get", "head", "post", "put", "patch", "delete", "options"])
      if ((item as Record<string, unknown>)[method] !== undefined)
        routes.add(`${method.toUpperCase()} ${path}`);
  return routes;
}

describe("/openapi.json", () => {
  let h: IngestHarness;
  let document: OpenApiDocument;
  before(async () => {
    h = await startIngestHarness();
    const res = await request(h.app).get(OPENAPI_PATH);
    assert.equal(res.status, 200, res.text);
    document = res.body as OpenApiDocument;
  });
  after(() => h?.close());

  test("describes every route of the app, and none it does not have", () => {
    const inApp = appRoutes(h.app);
    const inDocument = documentRoutes(document);
    assert.ok(inApp.size > 50, `only ${inApp.size} routes found: is the walk still right?`);
    const missing = [...inApp].filter((r) => !inDocument.has(r)).sort();
    const stale = [...inDocument].filter((r) => !inApp.has(r)).sort();
    assert.deepEqual(missing, [], "routes of the app the document does not describe");
    assert.deepEqual(stale, [], "routes the document describes that the app does not have");
  });

  test("is OpenAPI 3.1 whose every schema compiles as JSON Schema 2020-12", () => {
    assert.equal(document.openapi, "3.1.0");
    const ajv = addFormats(new Ajv2020({ strict: false }));
    for (const [name, schema] of Object.entries(document.components?.schemas ?? {}))
      assert.doesNotThrow(
        () => ajv.compile({ ...(schema as object), components: document.components }),
        name,
      );
    for (const [path, item] of Object.entries(document.paths ?? {}))
      for (const [method, op] of Object.entries(item as Record<string, { responses?: object }>)) {
        const responses = Object.entries(op.responses ?? {});
        assert.ok(responses.length > 0, `${method} ${path} has no responses`);
        assert.ok(
          responses.some(([status]) => /^[23]/.test(status)),
          `${method} ${path} lists no success`,
        );
      }
  });

  test("is public and cacheable, with an ETag that answers 304", async () => {
    const first = await request(h.app).get(OPENAPI_PATH);
    assert.match(String(first.headers["content-type"]), /^application\/json/);
    assert.match(String(first.headers["cache-control"]), /^public, max-age=\d+$/);
    const etag = String(first.headers.etag);
    const again = await request(h.app).get(OPENAPI_PATH).set("If-None-Match", etag);
    assert.equal(again.status, 304);
  });

  test("the reference page lists every route under the pages' Content Security Policy", async () => {
    const res = await request(h.app).get(REFERENCE_PAGE_PATH);
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/html/);
    assert.match(String(res.headers["content-security-policy"]), /style-src 'self'/);
    assert.doesNotMatch(res.text, /<script|style=/, "no script, no inline style");
    for (const route of documentRoutes(document)) {
      const [method, path] = route.split(" ");
      assert.ok(res.text.includes(`>${method} ${path}</a>`), `${route} is not on the page`);
    }
    const css = await request(h.app).get("/assets/api-reference.css");
    assert.equal(css.status, 200);
  });
});
