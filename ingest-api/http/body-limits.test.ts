import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import type { Express } from "express";
import request, { type Response } from "supertest";
import { expectError } from "../../test-support/api.ts";
import { assertFailsNaming } from "../../test-support/config-errors.ts";
import { listenLocally } from "../../test-support/http-listen.ts";
import {
  ADMIN,
  type IngestHarness,
  startIngestHarness,
  startIngestReplica,
} from "../../test-support/ingest.ts";
import { readIngestConfig } from "../config.ts";
import { BODY_LIMIT_VARIABLES, type BodyLimitsConfig } from "./body-limits.ts";

type Family = keyof BodyLimitsConfig;

/** A JSON object of exactly `bytes` bytes: one string field padded to length. */
function bodyOf(bytes: number, field = "name"): string {
  const empty = JSON.stringify({ [field]: "" }).length;
  return JSON.stringify({ [field]: "x".repeat(bytes - empty) });
}

/** One route of each family that reads its body with the family's limit, and its method. */
const ROUTES: readonly {
  family: Family;
  method: "post" | "put" | "patch";
  path: string;
  field?: string;
}[] = [
  { family: "adminBodyBytes", method: "post", path: "/v1/schools" },
  { family: "adminBodyBytes", method: "patch", path: "/v1/schools/default" },
  { family: "adminBodyBytes", method: "post", path: "/v1/schools/default/admins" },
  { family: "adminBodyBytes", method: "put", path: "/v1/schools/default/people/p-1" },
  { family: "adminBodyBytes", method: "patch", path: "/v1/schools/default/attendance" },
  { family: "adminBodyBytes", method: "put", path: "/v1/schools/default/holidays/2026-12-25" },
  { family: "adminBodyBytes", method: "post", path: "/v1/schools/default/teachers" },
  { family: "adminBodyBytes", method: "post", path: "/v1/registers/reg-1/complete" },
  { family: "registryBodyBytes", method: "post", path: "/v1/polls" },
  { family: "registryBodyBytes", method: "patch", path: "/v1/polls/p-1" },
  { family: "registryBodyBytes", method: "post", path: "/v1/kiosks" },
  { family: "registryBodyBytes", method: "patch", path: "/v1/kiosks/k-1" },
  { family: "consoleBodyBytes", method: "post", path: "/v1/console/invites" },
  { family: "consoleBodyBytes", method: "post", path: "/v1/console/sessions", field: "token" },
  { family: "pairingBodyBytes", method: "post", path: "/v1/pair", field: "code" },
];

const DEFAULTS: Readonly<BodyLimitsConfig> = {
  adminBodyBytes: 16_384,
  registryBodyBytes: 262_144,
  consoleBodyBytes: 4_096,
  pairingBodyBytes: 1_024,
};

// Small limits for the replica that proves each variable changes its family's limit.
const SET: Readonly<BodyLimitsConfig> = {
  adminBodyBytes: 2_000,
  registryBodyBytes: 3_000,
  consoleBodyBytes: 1_500,
  pairingBodyBytes: 200,
};

function send(app: Express, route: (typeof ROUTES)[number], body: string) {
  return request(app)
    [route.method](route.path)
    .set(ADMIN)
    .set("Content-Type", "application/json")
    .send(body);
}

/** The 413 envelope: body_too_large, the limit in bytes in the message and details, the variable named. */
function expectOverLimit(res: Response, family: Family, limitBytes: number): void {
  const error = expectError(res, 413, "body_too_large");
  assert.deepEqual(error.details, { limitBytes });
  assert.equal(
    error.message,
    `body is larger than ${limitBytes} bytes (${BODY_LIMIT_VARIABLES[family]})`,
  );
}

describe("readBodyLimits (MAX_*_BODY_BYTES)", () => {
  test("defaults, values set, and a bad value failing naming its variable", () => {
    assert.deepEqual(readIngestConfig({}).bodyLimits, DEFAULTS);
    const env = Object.fromEntries(
      Object.entries(SET).map(([key, value]) => [
        BODY_LIMIT_VARIABLES[key as Family],
        String(value),
      ]),
    );
    assert.deepEqual(readIngestConfig(env).bodyLimits, SET);
    for (const variable of Object.values(BODY_LIMIT_VARIABLES)) {
      assertFailsNaming(readIngestConfig, { [variable]: "16k" }, variable, /integer/);
      assertFailsNaming(readIngestConfig, { [variable]: "100" }, variable, /at least/);
      assertFailsNaming(
        readIngestConfig,
        { [variable]: String(32 * 1024 * 1024) },
        variable,
        /at most/,
      );
    }
  });
});

describe("JSON bodies over their route's limit answer 413 naming it", () => {
  let h: IngestHarness;
  let small: { app: Express; close(): Promise<void> };
  before(async () => {
    h = await startIngestHarness();
    // The same database and Redis, each limit set low: only the variables differ.
    small = await startIngestReplica(
      h,
      Object.fromEntries(
        Object.entries(SET).map(([key, value]) => [
          BODY_LIMIT_VARIABLES[key as Family],
          String(value),
        ]),
      ),
    );
  });
  after(async () => {
    await small?.close();
    await h?.close();
  });

  for (const route of ROUTES) {
    test(`${route.method.toUpperCase()} ${route.path}: ${BODY_LIMIT_VARIABLES[route.family]}`, async () => {
      const byDefault = DEFAULTS[route.family];
      const set = SET[route.family];
      // At the default limit the body is read (and judged on what it says); one byte more is not.
      const atLimit = await send(h.app, route, bodyOf(byDefault, route.field));
      assert.notEqual(atLimit.status, 413, atLimit.text);
      expectOverLimit(
        await send(h.app, route, bodyOf(byDefault + 1, route.field)),
        route.family,
        byDefault,
      );
      // The variable moves the limit: a body well under the default is refused past it.
      const between = bodyOf(set + 1, route.field);
      assert.notEqual((await send(h.app, route, between)).status, 413);
      expectOverLimit(await send(small.app, route, between), route.family, set);
      const within = await send(small.app, route, bodyOf(set, route.field));
      assert.notEqual(within.status, 413, within.text);
    });
  }

  test("a chunked body (no Content-Length) over the limit gets the same answer", async () => {
    const local = await listenLocally(small.app);
    try {
      const { port } = new URL(local.url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          {
            port: Number(port),
            host: "127.0.0.1",
            method: "POST",
            path: "/v1/pair",
            headers: { "Content-Type": "application/json" },
          },
          (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (c: string) => {
              body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on("error", reject);
        // Two chunks, neither declared in advance: only reading finds the body too large.
        const body = bodyOf(SET.pairingBodyBytes + 50, "code");
        req.write(body.slice(0, 100));
        req.end(body.slice(100));
      });
      assert.equal(answer.status, 413, answer.body);
      const { error } = JSON.parse(answer.body);
      assert.equal(error.code, "body_too_large");
      assert.deepEqual(error.details, { limitBytes: SET.pairingBodyBytes });
      assert.match(error.message, /\(MAX_PAIRING_BODY_BYTES\)$/);
    } finally {
      await local.close();
    }
  });
});
