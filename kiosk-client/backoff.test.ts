import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelayMs, retryAfterMs } from "./backoff.ts";
import { fitBytes } from "./batch-body.ts";

describe("back-off, Retry-After and the byte budget", () => {
  test("full jitter stays within [min, min(max, min × 2^attempt)]", () => {
    const o = { minBackoffMs: 100, maxBackoffMs: 1_000 };
    assert.equal(
      backoffDelayMs(1, o, () => 0),
      100,
    );
    assert.equal(
      backoffDelayMs(1, o, () => 0.999_999),
      199,
    );
    assert.equal(
      backoffDelayMs(3, o, () => 0.999_999),
      799,
    );
    assert.equal(
      backoffDelayMs(50, o, () => 0.999_999),
      999,
    ); // capped by max
  });

  test("Retry-After as seconds or an HTTP date; anything else is no advice", () => {
    assert.equal(retryAfterMs("2"), 2_000);
    const now = Date.parse("2026-12-01T10:00:00Z");
    assert.equal(retryAfterMs("Tue, 01 Dec 2026 10:00:05 GMT", now), 5_000);
    assert.equal(retryAfterMs("Tue, 01 Dec 2026 09:00:00 GMT", now), 0);
    assert.equal(retryAfterMs("soon"), undefined);
    assert.equal(retryAfterMs(null), undefined);
  });

  test("fitBytes counts the envelope and commas, and always takes at least one", () => {
    const items = [{ bytes: 10 }, { bytes: 10 }, { bytes: 10 }];
    // {"votes":[]} is 12 bytes; two items and a comma make 33.
    assert.equal(fitBytes(items, 33), 2);
    assert.equal(fitBytes(items, 32), 1);
    assert.equal(fitBytes(items, 5), 1);
    assert.equal(fitBytes(items, 10_000), 3);
  });
});
