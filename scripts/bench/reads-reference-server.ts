import { createServer } from "node:http";
import { RESP_TYPES } from "redis";
import { createLogger } from "../../common/logger.ts";
import { connectRedis } from "../../common/redis.ts";
import { listenUntilStopped } from "./reference-listen.ts";

// The baselines of `npm run bench:reads`: bare node:http answering a results GET with the
// bytes of one Redis key. READS_FROM=redis GETs the key per request (what the API did
// before its in-process cache); READS_FROM=memory reads it once and answers from memory
// (the least any server can do). No routing, validation, headers or metrics: the API's
// ratio to these is the price of everything it adds.
//
// Env: PORT, REDIS_URL, READS_KEY (the key), READS_FROM (redis | memory).

const port = Number(process.env.PORT ?? "3101");
const key = process.env.READS_KEY ?? "tallyflow:results:bench:json";
const from = process.env.READS_FROM === "memory" ? "memory" : "redis";
// The API's own connection helper, so client settings are the same on both sides.
const redis = (
  await connectRedis(
    process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    createLogger("warn", { service: "bench-reads-reference" }),
    "bench-reads-reference",
  )
).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
const inMemory = from === "memory" ? await redis.get(key) : null;

const answer = (res: import("node:http").ServerResponse, body: Buffer | null) => {
  if (body === null) {
    res.writeHead(503).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
};

const server = createServer((req, res) => {
  // Anything but the results path is the bench's readiness probe.
  if (!req.url?.endsWith("/results")) {
    res.writeHead(200).end();
    return;
  }
  if (from === "memory") answer(res, inMemory);
  else
    redis.get(key).then(
      (body) => answer(res, body),
      () => res.writeHead(503).end(),
    );
});
listenUntilStopped(server, port, () => redis.close());
