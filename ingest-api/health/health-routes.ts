import { Router } from "express";
import type { Registry } from "prom-client";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { VotePublisher } from "../votes/vote-publisher.ts";

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

interface Readiness {
  ready: boolean;
  checks: Record<"postgres" | "nats" | "redis", { ok: boolean; error?: string }>;
}

/**
 * Liveness, readiness (every dependency reachable) and Prometheus metrics. /healthz touches
 * nothing (liveness probes). One readiness probe round is shared by every /readyz within
 * `readyzCacheMs` of its start, including the ones arriving while it runs, so a flood
 * costs at most one Postgres query per period.
 */
export interface HealthRouteDeps {
  pool: Pool;
  /** NATS: its connection state. */
  publisher: Pick<VotePublisher, "connected">;
  redis: RedisClient;
  /** The metrics /metrics serves. */
  metricsRegistry: Registry;
  /** Age of the registry cache, reported by /readyz. */
  registryAgeMs: () => number;
  readyzCacheMs?: number;
}

export function healthRoutes({
  pool,
  publisher,
  redis,
  metricsRegistry: registry,
  registryAgeMs,
  readyzCacheMs = 0,
}: HealthRouteDeps) {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  const probe = async (): Promise<Readiness> => {
    const [postgres, nats, redisCheck] = await Promise.all([
      check(() => pool.query("select 1")),
      check(async () => {
        if (!publisher.connected) throw new Error("disconnected");
      }),
      check(() => redis.ping()),
    ]);
    const ready = postgres.ok && nats.ok && redisCheck.ok;
    return { ready, checks: { postgres, nats, redis: redisCheck } };
  };
  let last: { startedMs: number; readiness: Promise<Readiness> } | undefined;
  router.get("/readyz", async (_req, res) => {
    const now = performance.now();
    if (last === undefined || now - last.startedMs >= readyzCacheMs)
      last = { startedMs: now, readiness: probe() };
    const { ready, checks } = await last.readiness;
    res.setHeader("Cache-Control", "no-store");
    res.status(ready ? 200 : 503).json({
      status: ready ? "ready" : "not_ready",
      checks,
      registryCacheAgeMs: registryAgeMs(),
    });
  });
  router.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
