import { Router } from "express";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { VotePublisher } from "../votes/vote-publisher.ts";

const CHECK_TIMEOUT_MS = 1_000;

type Dependency = "postgres" | "nats" | "redis";

/** What /readyz tells anyone about one dependency: reachable or not, never why. */
interface Check {
  ok: boolean;
}

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: unknown }> {
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
    return { ok: false, error: err };
  } finally {
    clearTimeout(timer);
  }
}

interface Readiness {
  ready: boolean;
  checks: Record<Dependency, Check>;
}

/**
 * Liveness and readiness (every dependency reachable). /healthz touches nothing (liveness
 * probes). One readiness probe round is shared by every /readyz within `readyzCacheMs` of
 * its start, including the ones arriving while it runs, so a flood costs at most one
 * Postgres query per period. /readyz is public: it says which dependency is unavailable,
 * and the error itself (host names, addresses, users) goes to the log, once per change.
 * The metrics are not here: they listen on a port of their own (API_METRICS_PORT).
 */
export interface HealthRouteDeps {
  pool: Pool;
  /** NATS: its connection state. */
  publisher: Pick<VotePublisher, "connected">;
  redis: RedisClient;
  /** Age of the registry cache, reported by /readyz. */
  registryAgeMs: () => number;
  readyzCacheMs?: number;
  logger: Logger;
}

export function healthRoutes({
  pool,
  publisher,
  redis,
  registryAgeMs,
  readyzCacheMs = 0,
  logger,
}: HealthRouteDeps) {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  const log = logger.child({ component: "readyz" });
  const wasOk: Record<Dependency, boolean> = { postgres: true, nats: true, redis: true };
  const report = (name: Dependency, result: { ok: boolean; error?: unknown }): Check => {
    if (wasOk[name] && !result.ok)
      log.warn({ dependency: name, err: result.error }, "readiness check failed");
    else if (!wasOk[name] && result.ok) log.info({ dependency: name }, "readiness check ok again");
    wasOk[name] = result.ok;
    return { ok: result.ok };
  };
  const probe = async (): Promise<Readiness> => {
    const [postgres, nats, redisCheck] = await Promise.all([
      check(() => pool.query("select 1")),
      check(async () => {
        if (!publisher.connected) throw new Error("disconnected");
      }),
      check(() => redis.ping()),
    ]);
    const ready = postgres.ok && nats.ok && redisCheck.ok;
    return {
      ready,
      checks: {
        postgres: report("postgres", postgres),
        nats: report("nats", nats),
        redis: report("redis", redisCheck),
      },
    };
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
  return router;
}
