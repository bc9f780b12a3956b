import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import { readWriterConfig } from "../batch-writer/config.ts";
import { readPublisherConfig } from "../result-publisher/config.ts";
import { ConfigError } from "./errors.ts";
import { startMetricsServer } from "./metrics-server.ts";

// The writer's and the publisher's /metrics listen on 127.0.0.1 unless configured
// otherwise: they are for a scraper next to the service, not for anyone on the network.

/** This host's non-loopback IPv4 addresses (none on a box without a network). */
function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && !i.internal && i.family === "IPv4")
    .map((i) => i!.address);
}

async function reachable(host: string, port: number): Promise<boolean> {
  try {
    await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch {
    return false;
  }
}

describe("metrics servers", () => {
  test("WRITER_METRICS_HOST and PUBLISHER_METRICS_HOST default to 127.0.0.1 and are read", () => {
    assert.equal(readWriterConfig({}).metricsHost, "127.0.0.1");
    assert.equal(readPublisherConfig({}).metricsHost, "127.0.0.1");
    assert.equal(readWriterConfig({ WRITER_METRICS_HOST: "0.0.0.0" }).metricsHost, "0.0.0.0");
    assert.equal(readPublisherConfig({ PUBLISHER_METRICS_HOST: "::" }).metricsHost, "::");
    assert.equal(
      readWriterConfig({ WRITER_METRICS_HOST: "metrics.internal" }).metricsHost,
      "metrics.internal",
    );
  });

  test("a bad host fails at start naming the variable", () => {
    for (const [read, variable] of [
      [readWriterConfig, "WRITER_METRICS_HOST"],
      [readPublisherConfig, "PUBLISHER_METRICS_HOST"],
    ] as const)
      assert.throws(
        () => read({ [variable]: "http://0.0.0.0:9101" }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.variable === variable &&
          /IP address or a host name/.test(err.message),
      );
  });

  /** A metrics server on the default host, for `check`; closed after it. */
  const onDefaultHost = async (check: (port: number, address: string) => Promise<void>) => {
    const host = readWriterConfig({}).metricsHost;
    const { server, port } = await startMetricsServer(
      new Registry(),
      { port: 0, host },
      async () => true,
    );
    try {
      await check(port, (server.address() as AddressInfo).address);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  };

  test("on the default host the server listens on 127.0.0.1 and answers there", async () => {
    await onDefaultHost(async (port, address) => {
      assert.equal(address, "127.0.0.1");
      assert.equal(await reachable("127.0.0.1", port), true);
    });
  });

  test("on the default host the server is not reachable on this host's external addresses", async (t) => {
    const external = externalAddresses();
    if (external.length === 0) return t.skip("this host has no external IPv4 address to try");
    await onDefaultHost(async (port) => {
      for (const address of external)
        assert.equal(await reachable(address, port), false, `reachable on ${address}`);
    });
  });
});
