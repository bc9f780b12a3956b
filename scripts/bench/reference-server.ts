import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { jetstream } from "@nats-io/jetstream";
import { createLogger } from "../../common/logger.ts";
import { connectNats } from "../../common/nats.ts";
import { readNatsAuth } from "../../common/nats-auth.ts";
import { listenUntilStopped } from "./reference-listen.ts";

// The baseline for `npm run bench:ingest`: the least a Node process can do per vote and
// still give the kiosk the same guarantee as the ingest API (202 only after JetStream
// acked the message). Bare node:http, JSON.parse, one awaited publish with a fresh
// Nats-Msg-Id, 202. No auth, validation, metrics or logging, so the API's ratio to this
// server is the price of everything the API adds on top of the unavoidable I/O.
//
// Env: PORT, NATS_URL, NATS_API_PASSWORD, SUBJECT_PREFIX (publishes on `<SUBJECT_PREFIX>.<pollId>`).

const port = Number(process.env.PORT ?? "3100");
const subjectPrefix = process.env.SUBJECT_PREFIX ?? "votes";
// The API's own connection helper and JetStream options (2 s ack timeout), so that a
// change of client settings there changes the baseline too: the ratio compares servers.
const nc = await connectNats(
  process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  "bench-reference",
  readNatsAuth(process.env, "api"),
  createLogger("warn", { service: "bench-reference" }),
);
const js = jetstream(nc, { timeout: 2_000 });

const server = createServer((req, res) => {
  // Anything but a POST is the bench's readiness probe.
  if (req.method !== "POST") {
    res.writeHead(200).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { pollId?: unknown };
      const eventId = randomUUID();
      // Re-encoded like the API's message envelope so both publish similar payloads.
      await js.publish(`${subjectPrefix}.${String(body.pollId)}`, JSON.stringify({ v: 1, body }), {
        msgID: eventId,
        timeout: 2_000,
      });
      const payload = JSON.stringify({ eventId, status: "accepted" });
      res.writeHead(202, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(payload),
      });
      res.end(payload);
    } catch (err) {
      res.writeHead(503).end(err instanceof Error ? err.message : String(err));
    }
  });
});
listenUntilStopped(server, port, () => nc.drain());
