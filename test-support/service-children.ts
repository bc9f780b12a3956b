import { type NodeChild, spawnNode } from "../harness/child-processes.ts";
import { freePort } from "../harness/ports.ts";
import { eventually } from "../harness/waiting.ts";
import { metricSample } from "./metrics-scrape.ts";
import type { EnvVars } from "./service-env.ts";

// The services as child processes, as they run in production: for crashes (SIGKILL),
// graceful stops (SIGTERM) and several instances competing.

/** `node batch-writer/main.ts` with this environment. */
export function spawnWriter(env: EnvVars): NodeChild {
  return spawnNode("batch-writer/main.ts", [], env);
}

export interface PublisherChild extends NodeChild {
  metricsPort: number;
}

/**
 * `node result-publisher/main.ts` with `env` and a metrics port of its own; resolves once
 * its /healthz answers 200 (connected to Postgres and Redis).
 */
export async function spawnPublisher(env: EnvVars): Promise<PublisherChild> {
  const metricsPort = await freePort();
  const child = spawnNode("result-publisher/main.ts", [], {
    ...env,
    PUBLISHER_METRICS_PORT: String(metricsPort),
  });
  await eventually(
    `publisher child on metrics port ${metricsPort} is healthy`,
    async () => {
      if (child.process.exitCode !== null) throw new Error(`publisher exited: ${child.output()}`);
      const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      return res.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return { ...child, metricsPort };
}

/** tallyflow_publisher_is_leader of a child (undefined when it cannot be scraped). */
export async function leaderGauge(child: PublisherChild): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${child.metricsPort}/metrics`);
    return metricSample(await res.text(), "tallyflow_publisher_is_leader");
  } catch {
    return undefined;
  }
}
