import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";

// No Docker engine runs in CI: check that the compose file parses, names every service,
// and that each app service runs a file that exists in the image's sources.

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
}

test("docker-compose.yml parses and every app service runs an existing entry point", () => {
  const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as {
    services: Record<string, Service>;
  };
  const names = Object.keys(compose.services).sort();
  assert.deepEqual(names, [
    "batch-writer",
    "ingest-api",
    "migrate",
    "nats",
    "postgres",
    "redis",
    "result-publisher",
  ]);
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build === undefined) continue;
    const entry = service.command?.[1];
    assert.ok(entry && existsSync(entry), `${name} runs ${entry}, which must exist`);
    const dir = entry.split("/")[0]!;
    assert.match(
      readFileSync("Dockerfile", "utf8"),
      new RegExp(`COPY ${dir} `),
      `${dir} is copied`,
    );
  }
  assert.equal(compose.services["ingest-api"]?.environment?.NATS_URL, "nats://nats:4222");
  // The metrics listen on 127.0.0.1 by default; in a container that would reach no scraper.
  const writerEnv = compose.services["batch-writer"]?.environment;
  const publisherEnv = compose.services["result-publisher"]?.environment;
  assert.equal(writerEnv?.WRITER_METRICS_HOST, "0.0.0.0");
  assert.equal(publisherEnv?.PUBLISHER_METRICS_HOST, "0.0.0.0");
  assert.equal(writerEnv?.NATS_URL, "nats://nats:4222", "the shared environment is kept");
  assert.equal(publisherEnv?.NATS_URL, "nats://nats:4222", "the shared environment is kept");
  assert.match(
    readFileSync("Dockerfile", "utf8"),
    /FROM node:24/,
    "the image runs Node 24 like the pinned devDependency",
  );
});
