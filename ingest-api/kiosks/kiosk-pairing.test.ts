import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import QRCode from "qrcode";
import request, { type Response } from "supertest";
import { Lifecycle } from "../../common/lifecycle.ts";
import { createLogger } from "../../common/logger.ts";
import { eventually } from "../../harness/waiting.ts";
import {
  createKiosk,
  createPoll,
  expectError,
  issueFor,
  listenerReady,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import type { Pairing } from "../registry/registry-service.ts";
import { buildIngestApi, type IngestApi } from "../service.ts";

const CODE_SHAPE = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

const vote = (app: IngestApi["app"], token: string, pollId = "pair-poll") =>
  request(app)
    .post("/v1/votes")
    .set("Authorization", `Bearer ${token}`)
    .send({ pollId, optionId: "yes" });

async function newPairing(app: IngestApi["app"], kioskId: string) {
  const res = await request(app).post(`/v1/kiosks/${kioskId}/pairing`).set(ADMIN);
  assert.equal(res.status, 201, res.text);
  return res;
}

const pair = (app: IngestApi["app"], code: unknown) => request(app).post("/v1/pair").send({ code });

describe("kiosk pairing", () => {
  let h: IngestHarness;
  /** A second API process on the same database and Redis: it hears of changes by NOTIFY. */
  let other: IngestApi;
  let otherLifecycle: Lifecycle;

  before(async () => {
    // The periodic reload pushed out: the other process sees a re-pairing through NOTIFY only.
    h = await startIngestHarness({ REGISTRY_REFRESH_MS: "600000" });
    const logger = createLogger(h.config.logLevel);
    otherLifecycle = new Lifecycle(logger);
    other = await buildIngestApi(h.config, logger, otherLifecycle);
    await createPoll(h.app, { id: "pair-poll" });
    await listenerReady(h);
  });
  after(async () => {
    await otherLifecycle?.close(5_000);
    await h?.close();
  });

  test("a pairing is a code, a fragment URL, an expiry and a QR code of that URL", async () => {
    await createKiosk(h.app, "hall");
    const res = await newPairing(h.app, "hall");
    assert.equal(res.headers["cache-control"], "no-store");
    const { code, pairUrl, expiresAt, qrSvg } = res.body as Pairing;
    assert.match(code, CODE_SHAPE);
    // The request's own origin (no PUBLIC_URL), the code in the fragment only.
    const url = new URL(pairUrl);
    assert.equal(url.pathname, "/pair");
    assert.equal(url.search, "");
    assert.equal(url.hash, `#code=${code}`);
    assert.match(url.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    // Default PAIRING_CODE_TTL_MS: 10 minutes after the code was made, both instants taken
    // by Postgres (however long the request took); the answer names that expiry.
    const { rows } = await h.db.pool.query<{ created_at: Date; expires_at: Date }>(
      "select created_at, expires_at from kiosk_pairing_codes where kiosk_id = 'hall'",
    );
    assert.equal(rows[0]!.expires_at.getTime() - rows[0]!.created_at.getTime(), 600_000);
    assert.equal(expiresAt, rows[0]!.expires_at.toISOString());

    assert.match(
      qrSvg,
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 (\d+) \1"/,
    );
    assert.match(qrSvg, /<\/svg>\s*$/);
    // The module count follows the encoded text's length: the SVG has the size of a QR
    // code of this URL (margin 4 each side), and is exactly qrcode's rendering of it.
    const size = Number(/viewBox="0 0 (\d+)/.exec(qrSvg)![1]);
    const symbol = QRCode.create(pairUrl, { errorCorrectionLevel: "M" });
    assert.equal(size, symbol.modules.size + 8);
    assert.equal(qrSvg, await QRCode.toString(pairUrl, { type: "svg", errorCorrectionLevel: "M" }));
    assert.notEqual(
      qrSvg,
      await QRCode.toString(`${pairUrl}X`, { type: "svg", errorCorrectionLevel: "M" }),
    );
  });

  test("only the code's sha256 is stored, one code per kiosk", async () => {
    await createKiosk(h.app, "hashed");
    const first = (await newPairing(h.app, "hashed")).body.code as string;
    const { code } = (await newPairing(h.app, "hashed")).body as { code: string };
    const { rows } = await h.db.pool.query(
      "select * from kiosk_pairing_codes where kiosk_id = 'hashed'",
    );
    assert.equal(rows.length, 1, "a new pairing replaces the unused code");
    const canonical = code.replace("-", "");
    assert.deepEqual(rows[0].code_hash, createHash("sha256").update(canonical).digest());
    const stored = JSON.stringify(rows[0]);
    assert.ok(!stored.includes(canonical) && !stored.includes(code), "the code in clear");
    // The replaced code is gone.
    expectError(await pair(h.app, first), 404, "pairing_code_invalid");
  });

  test("a code works once, typed in any case with or without its dash, I/L as 1 and O as 0", async () => {
    await createKiosk(h.app, "once", "Once hall");
    const { code } = (await newPairing(h.app, "once")).body as { code: string };
    // What a person might type: lower case, a space for the dash, 1 and 0 as letters.
    const typed = ` ${code.toLowerCase().replace("-", " ").replaceAll("1", "l").replaceAll("0", "O")} `;
    const res = await pair(h.app, typed);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.deepEqual(Object.keys(res.body).sort(), [
      "kioskId",
      "name",
      "pollIds",
      "schoolId",
      "token",
    ]);
    assert.equal(res.body.kioskId, "once");
    assert.equal(res.body.name, "Once hall");
    assert.equal(res.body.pollIds, null);
    assert.equal((await vote(h.app, res.body.token)).status, 202);

    const again = expectError(await pair(h.app, code), 404, "pairing_code_invalid");
    assert.match(again.message, /unknown, used or expired/);
    const { rowCount } = await h.db.pool.query(
      "select 1 from kiosk_pairing_codes where kiosk_id = 'once'",
    );
    assert.equal(rowCount, 0);
  });

  test("unknown and expired codes get the same 404; a code that cannot be one is 400", async () => {
    await createKiosk(h.app, "expiring");
    const { code } = (await newPairing(h.app, "expiring")).body as { code: string };
    await h.db.pool.query(
      "update kiosk_pairing_codes set expires_at = now() - interval '1 second' where kiosk_id = 'expiring'",
    );
    const expired = expectError(await pair(h.app, code), 404, "pairing_code_invalid");
    const unknown = expectError(await pair(h.app, "ZZZZ-ZZZZ"), 404, "pairing_code_invalid");
    assert.deepEqual(expired, unknown, "no oracle: the same answer");

    for (const bad of ["ABC", "ABCD-EFGH-J", "ABCD-EFGU", "ABCD_EFGH", ""])
      assert.match(issueFor(await pair(h.app, bad), "code").message, /8 letters and digits/);
    assert.match(issueFor(await pair(h.app, 12345678), "code").message, /must be a string/);
    issueFor(await request(h.app).post("/v1/pair").send({}), "code");
    const extra = await request(h.app).post("/v1/pair").send({ code, kioskId: "x" });
    expectError(extra, 400, "invalid_request");
  });

  test("pairing again revokes the previous token at once, here and on the other API process", async () => {
    const created = await createKiosk(h.app, "moved");
    // The other process knows the kiosk (NOTIFY) before the test relies on it.
    await eventually("the other process knows the kiosk", async () =>
      (await vote(other.app, created.token)).status === 202 ? true : undefined,
    );
    const { code } = (await newPairing(h.app, "moved")).body as { code: string };
    const paired = (await pair(h.app, code)).body as { token: string };
    assert.notEqual(paired.token, created.token);

    expectError(await vote(h.app, created.token), 401, "unauthorized");
    assert.equal((await vote(h.app, paired.token)).status, 202);
    const refused = await eventually("the other process drops the old token", async () => {
      const res = await vote(other.app, created.token);
      return res.status === 202 ? undefined : res;
    });
    expectError(refused, 401, "unauthorized");
    await eventually("the other process takes the new token", async () =>
      (await vote(other.app, paired.token)).status === 202 ? true : undefined,
    );

    // And a second pairing of the same kiosk revokes the first pairing's token.
    const next = (await newPairing(h.app, "moved")).body.code as string;
    const second = (await pair(h.app, next)).body as { token: string };
    expectError(await vote(h.app, paired.token), 401, "unauthorized");
    assert.equal((await vote(h.app, second.token)).status, 202);
  });

  test("a revoked kiosk cannot be paired, and revoking drops its unused code", async () => {
    await createKiosk(h.app, "gone");
    const { code } = (await newPairing(h.app, "gone")).body as { code: string };
    await request(h.app).delete("/v1/kiosks/gone").set(ADMIN).expect(200);
    expectError(await pair(h.app, code), 404, "pairing_code_invalid");
    const refused = await request(h.app).post("/v1/kiosks/gone/pairing").set(ADMIN);
    assert.match(expectError(refused, 403, "kiosk_revoked").message, /cannot be paired/);
    expectError(
      await request(h.app).post("/v1/kiosks/nobody/pairing").set(ADMIN),
      404,
      "kiosk_not_found",
    );
    expectError(await request(h.app).post("/v1/kiosks/hall/pairing"), 401, "unauthorized");
  });

  test("a code whose kiosk was revoked after it was made is used up with 403", async () => {
    await createKiosk(h.app, "raced");
    const { code } = (await newPairing(h.app, "raced")).body as { code: string };
    // A revocation that did not go through the API (so the code is still there).
    await h.db.pool.query("update kiosks set revoked_at = now() where id = 'raced'");
    expectError(await pair(h.app, code), 403, "kiosk_revoked");
    expectError(await pair(h.app, code), 404, "pairing_code_invalid");
  });

  test("pairings are counted by outcome", async () => {
    const count = async (outcome: string) =>
      metricSample(await h.metrics(), "tallyflow_kiosk_pairings_total", { outcome }) ?? Number.NaN;
    const before = { paired: await count("paired"), invalid: await count("invalid_code") };
    assert.ok((await count("revoked")) >= 1, "the raced kiosk's pairing");
    await createKiosk(h.app, "counted");
    const { code } = (await newPairing(h.app, "counted")).body as { code: string };
    await pair(h.app, code).expect(200);
    await pair(h.app, code).expect(404);
    await pair(h.app, "bad").expect(400);
    assert.equal(await count("paired"), before.paired + 1);
    assert.equal(await count("invalid_code"), before.invalid + 2);
  });
});

describe("kiosk pairing: PUBLIC_URL and the per-address limit", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({
      PUBLIC_URL: "https://vote.example.org/tally/",
      RATE_LIMIT_PAIR_PER_MIN: "3",
    });
  });
  after(() => h?.close());

  test("the pairing URL is built on PUBLIC_URL", async () => {
    await createKiosk(h.app, "pub");
    const { code, pairUrl } = (await newPairing(h.app, "pub")).body as Pairing;
    assert.equal(pairUrl, `https://vote.example.org/tally/pair#code=${code}`);
  });

  test("pairing attempts beyond RATE_LIMIT_PAIR_PER_MIN get 429 rate_limited (pairing)", async () => {
    const answers: Response[] = await Promise.all(
      Array.from({ length: 10 }, () => pair(h.app, "ZZZZ-ZZZZ").then((r: Response) => r)),
    );
    const throttled = answers.filter((r) => r.status === 429);
    // Fixed one-minute windows: even across a window boundary at most 2 × 3 get through.
    assert.ok(throttled.length >= 4, `only ${throttled.length} of 10 throttled`);
    for (const res of throttled) {
      const error = expectError(res, 429, "rate_limited");
      assert.equal((error.details as { limit: string }).limit, "pairing");
      assert.match(String(res.headers["retry-after"]), /^[1-9]\d*$/);
    }
    for (const res of answers.filter((r) => r.status !== 429))
      expectError(res, 404, "pairing_code_invalid");
    const metrics = await h.metrics();
    assert.equal(
      metricSample(metrics, "tallyflow_kiosk_pairings_total", { outcome: "invalid_code" }),
      10 - throttled.length,
    );
    assert.equal(
      metricSample(metrics, "tallyflow_rate_limited_total", { limit: "pairing" }),
      throttled.length,
    );
  });
});
