import { Router } from "express";
import type { Registry } from "prom-client";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import type { VotePublisher } from "./vote-publisher.ts";

const CHECK_TIMEOUT_MS = 1_000;

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness, readiness (every dependency reachable) and Prometheus metrics. */
export function healthRoutes(
  pool: Pool,
  publisher: VotePublisher,
  redis: RedisClient,
  registry: Registry,
  registryAgeMs: () => number,
) {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [postgres, nats, redisCheck] = await Promise.all([
      check(() => pool.query("select 1")),
      check(async () => {
        if (!publisher.connected) throw new Error("disconnected");
      }),
      check(() => redis.ping()),
    ]);
    const ready = postgres.ok && nats.ok && redisCheck.ok;
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      checks: { postgres, nats, redis: redisCheck },
      registryCacheAgeMs: registryAgeMs(),
    });
  });
  router.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
