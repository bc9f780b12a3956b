import assert from "node:assert/strict";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PrivateNatsServer } from "../harness/nats-servers.ts";
import { createLogger } from "./logger.ts";
import { closeNats, connectNats } from "./nats.ts";
import { readNatsAuth } from "./nats-auth.ts";

// A process started together with NATS (compose starts them at once) waits for the server
// for NATS_CONNECT_WAIT_MS instead of exiting; without a wait it fails at once, as before.

const logger = createLogger("silent");
const auth = readNatsAuth({}, "api");
let server: PrivateNatsServer | undefined;
after(() => server?.stop());

test("the first connection waits for a server that is still starting", async () => {
  server = await PrivateNatsServer.create();
  await server.stop();
  const connecting = connectNats(server.url, "wait-test", auth, logger, {
    firstConnectWaitMs: 30_000,
  });
  await sleep(1_000);
  await server.start();
  const nc = await connecting;
  assert.equal(nc.isClosed(), false);
  await closeNats(nc);
});

test("without a wait, or past it, no server is an error", async () => {
  await server!.stop();
  await assert.rejects(connectNats(server!.url, "no-wait", auth, logger));
  const started = Date.now();
  await assert.rejects(
    connectNats(server!.url, "short-wait", auth, logger, { firstConnectWaitMs: 1_200 }),
  );
  assert.ok(Date.now() - started >= 1_000, "it kept trying for the wait");
});
