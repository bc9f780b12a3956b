import { join } from "node:path";
import {
  killChild,
  type NodeChild,
  startNode,
  stopChild,
  waitUntilReady,
} from "../../harness/child-processes.ts";
import { freePort } from "../../harness/ports.ts";
import { REPO_ROOT } from "../../harness/repo-root.ts";

// tallyflow as separate processes, as production runs it: the ingest API, one batch
// writer and one result publisher, each a `node <main>.ts` child with the environment of
// docs/configuration.md. Any of them can be killed (-9) and started again with
// the same environment, on the same port.

export type ServiceName = "api" | "writer" | "publisher";

const MAINS: Record<ServiceName, string> = {
  api: "ingest-api/main.ts",
  writer: "batch-writer/main.ts",
  publisher: "result-publisher/main.ts",
};

export interface SystemOptions {
  databaseUrl: string;
  natsUrl: string;
  /** The NATS users' passwords (NATS_API_PASSWORD, ...). */
  natsEnv: Readonly<Record<string, string>>;
  redisUrl: string;
  /** Stream replicas (3 on the cluster). Read by the services once STREAM_REPLICAS exists. */
  streamReplicas: number;
  resultsIntervalMs: number;
  logLevel: string;
}

export class System {
  readonly apiUrl: string;
  readonly env: NodeJS.ProcessEnv;
  readonly #children = new Map<ServiceName, NodeChild>();

  private constructor(port: number, env: NodeJS.ProcessEnv) {
    this.apiUrl = `http://127.0.0.1:${port}`;
    this.env = env;
  }

  static async create(o: SystemOptions): Promise<System> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: "development",
      DATABASE_URL: o.databaseUrl,
      NATS_URL: o.natsUrl,
      ...o.natsEnv,
      REDIS_URL: o.redisUrl,
      STREAM_REPLICAS: String(o.streamReplicas),
      RESULTS_INTERVAL_MS: String(o.resultsIntervalMs),
      LOG_LEVEL: o.logLevel,
      HOST: "127.0.0.1",
      PORT: String(port),
      API_METRICS_PORT: "0",
      WRITER_METRICS_PORT: "0",
      PUBLISHER_METRICS_PORT: "0",
      PG_POOL_SIZE: "4",
      // A writer killed while holding a batch: JetStream redelivers it after AckWait, then
      // after the back-off. Short values keep each fault's drain within seconds.
      ACK_WAIT_MS: "5000",
      REDELIVERY_BACKOFF_MS: "1000,2000",
      RETRY_MIN_MS: "100",
      RETRY_MAX_MS: "1000",
      REGISTRY_REFRESH_MS: "2000",
      SHUTDOWN_DEADLINE_MS: "5000",
    };
    return new System(port, env);
  }

  /** Starts what is not running, in the order a deploy does: API (provisions the stream), writer, publisher. */
  async start(): Promise<void> {
    for (const name of ["api", "writer", "publisher"] as const)
      if (!this.#alive(name)) await this.startService(name);
  }

  async startService(name: ServiceName): Promise<void> {
    const child = startNode(name, [join(REPO_ROOT, MAINS[name])], this.env);
    this.#children.set(name, child);
    // The API answers /healthz once it listens; the others have no port here: a short
    // wait for an early exit (a bad config exits at once with code 2) is all there is.
    if (name === "api") await waitUntilReady(child, `${this.apiUrl}/healthz`, 60_000);
    else
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, 1_500);
        child.process.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited at start with code ${code}`));
        });
      });
  }

  #alive(name: ServiceName): boolean {
    const child = this.#children.get(name);
    return (
      child !== undefined && child.process.exitCode === null && child.process.signalCode === null
    );
  }

  /** kill -9 of one service: nothing is flushed, acked or released. */
  async kill(name: ServiceName): Promise<void> {
    const child = this.#children.get(name);
    if (child) await killChild(child);
  }

  /** Services that exited by themselves (a crash), for the report. */
  crashed(): ServiceName[] {
    return [...this.#children]
      .filter(([, c]) => c.process.exitCode !== null && c.process.signalCode === null)
      .map(([name]) => name);
  }

  /** Graceful stop of everything, publisher first (the reverse of start). */
  async stop(): Promise<void> {
    for (const name of ["publisher", "writer", "api"] as const) {
      const child = this.#children.get(name);
      if (child) await stopChild(child, 8_000);
      this.#children.delete(name);
    }
  }
}
