import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertFailsNaming } from "../../test-support/config-errors.ts";
import { readIngestConfig } from "../config.ts";

// The HTTP exposure settings of the ingest config: timeouts, caps, proxy trust and HSTS.

/** Reading this env fails with a ConfigError naming `variable`. */
const failsNaming = (env: Record<string, string>, variable: string, message?: RegExp) =>
  assertFailsNaming(readIngestConfig, env, variable, message);

describe("HTTP exposure config", () => {
  test("defaults", () => {
    const c = readIngestConfig({});
    assert.equal(c.httpHeadersTimeoutMs, 10_000);
    assert.equal(c.httpRequestTimeoutMs, 30_000);
    assert.equal(c.httpKeepAliveTimeoutMs, 65_000);
    assert.equal(c.httpMaxConnections, 15_000);
    assert.equal(c.sseMaxClients, 10_000);
    assert.equal(c.sseMaxPerAddress, 20);
    assert.equal(c.sseHeartbeatMs, 15_000);
    assert.equal(c.sseMaxBufferedBytes, 65_536);
    assert.equal(c.trustProxy, false);
    assert.equal(c.hstsMaxAgeSeconds, 0);
  });

  test("reads every variable", () => {
    const c = readIngestConfig({
      HTTP_HEADERS_TIMEOUT_MS: "5000",
      HTTP_REQUEST_TIMEOUT_MS: "120000",
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "75000",
      HTTP_MAX_CONNECTIONS: "0",
      SSE_MAX_CLIENTS: "50000",
      SSE_MAX_PER_ADDRESS: "200",
      SSE_HEARTBEAT_MS: "30000",
      TRUST_PROXY: "loopback, 10.0.0.0/8, 2001:db8::1",
      HSTS_MAX_AGE_SECONDS: "31536000",
    });
    assert.equal(c.httpHeadersTimeoutMs, 5_000);
    assert.equal(c.httpRequestTimeoutMs, 120_000);
    assert.equal(c.httpKeepAliveTimeoutMs, 75_000);
    assert.equal(c.httpMaxConnections, 0, "0 = unlimited, so any SSE cap fits");
    assert.equal(c.sseMaxClients, 50_000);
    assert.equal(c.sseMaxPerAddress, 200);
    assert.equal(c.sseHeartbeatMs, 30_000);
    assert.deepEqual(c.trustProxy, ["loopback", "10.0.0.0/8", "2001:db8::1"]);
    assert.equal(c.hstsMaxAgeSeconds, 31_536_000);
    assert.equal(readIngestConfig({ TRUST_PROXY: "2" }).trustProxy, 2);
    assert.equal(readIngestConfig({ TRUST_PROXY: "false" }).trustProxy, false);
  });

  test("bad values fail naming the variable", () => {
    failsNaming({ HTTP_HEADERS_TIMEOUT_MS: "soon" }, "HTTP_HEADERS_TIMEOUT_MS", /integer/);
    failsNaming(
      { HTTP_HEADERS_TIMEOUT_MS: "40000" },
      "HTTP_HEADERS_TIMEOUT_MS",
      /must not exceed HTTP_REQUEST_TIMEOUT_MS \(30000\)/,
    );
    failsNaming({ HTTP_REQUEST_TIMEOUT_MS: "0" }, "HTTP_REQUEST_TIMEOUT_MS", /at least 100/);
    failsNaming({ HTTP_KEEP_ALIVE_TIMEOUT_MS: "10" }, "HTTP_KEEP_ALIVE_TIMEOUT_MS", /at least/);
    failsNaming({ HTTP_MAX_CONNECTIONS: "-1" }, "HTTP_MAX_CONNECTIONS", /at least 0/);
    failsNaming(
      { HTTP_MAX_CONNECTIONS: "5000" },
      "SSE_MAX_CLIENTS",
      /below HTTP_MAX_CONNECTIONS \(5000\) to leave connections for votes/,
    );
    failsNaming({ SSE_MAX_CLIENTS: "0" }, "SSE_MAX_CLIENTS", /at least 1/);
    failsNaming({ SSE_MAX_PER_ADDRESS: "0" }, "SSE_MAX_PER_ADDRESS", /at least 1/);
    failsNaming({ SSE_HEARTBEAT_MS: "10" }, "SSE_HEARTBEAT_MS", /at least 50/);
    failsNaming({ SSE_MAX_BUFFERED_BYTES: "100" }, "SSE_MAX_BUFFERED_BYTES", /at least 1024/);
    failsNaming({ TRUST_PROXY: "true" }, "TRUST_PROXY", /any client's X-Forwarded-For/);
    failsNaming({ TRUST_PROXY: "10.0.0.0/33" }, "TRUST_PROXY", /"10\.0\.0\.0\/33" is not/);
    failsNaming({ TRUST_PROXY: "proxy.internal" }, "TRUST_PROXY", /is not an address/);
    failsNaming({ HSTS_MAX_AGE_SECONDS: "-5" }, "HSTS_MAX_AGE_SECONDS", /at least 0/);
  });
});
