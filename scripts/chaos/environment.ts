import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../common/logger.ts";
import { migrate } from "../../common/migrate.ts";
import { createPool, ensureDatabase } from "../../common/postgres.ts";
import { PrivateNatsCluster, privateNatsUsers } from "../../harness/nats-servers.ts";
import { PrivatePostgres } from "../../harness/private-postgres.ts";
import { PrivateRedis } from "../../harness/private-redis.ts";
import type { SeededKiosk, SeededPoll } from "../simulator/kiosk-file.ts";
import { DEFAULT_ADMIN_TOKEN, seed } from "../simulator/seeding.ts";

// Everything the suite runs against, started by it and always stopped by it: its own
// Postgres cluster, redis-server and nats-server(s), never the shared ones. `close()` is
// safe to call twice and runs on failure and on Ctrl-C too. NATS runs the shipped users and
// permissions (docs/nats/accounts.conf): the services log in with theirs.

export class ChaosEnvironment {
  readonly postgres: PrivatePostgres;
  readonly redis: PrivateRedis;
  readonly databaseUrl: string;
  /** The NATS users' passwords of this run: the servers' environment and the services'. */
  readonly natsUsers = privateNatsUsers();
  readonly #dir: string;
  readonly #nats = new Map<number, PrivateNatsCluster>();
  #closed = false;

  private constructor(postgres: PrivatePostgres, redis: PrivateRedis, dir: string) {
    this.postgres = postgres;
    this.redis = redis;
    this.databaseUrl = postgres.url("tallyflow");
    this.#dir = dir;
  }

  static async create(): Promise<ChaosEnvironment> {
    const dir = await mkdtemp(join(tmpdir(), "tf-chaos-"));
    const [postgres, redis] = await Promise.all([PrivatePostgres.create(), PrivateRedis.create()]);
    const env = new ChaosEnvironment(postgres, redis, dir);
    // Postgres only: the JetStream resources are created on the private NATS servers when
    // those start (by the services' self-heal), never on the machine's shared NATS.
    try {
      await ensureDatabase(env.databaseUrl);
      const pool = createPool(env.databaseUrl, createLogger("warn"), { max: 1 });
      try {
        await migrate(pool, createLogger("warn"));
      } finally {
        await pool.end();
      }
    } catch (err) {
      await env.close();
      throw err;
    }
    return env;
  }

  /** The single node (size 1) or the 3-node cluster (size 3), started on first use. */
  async nats(size: 1 | 3): Promise<PrivateNatsCluster> {
    let servers = this.#nats.get(size);
    if (!servers) {
      servers = await PrivateNatsCluster.create(size, this.natsUsers);
      this.#nats.set(size, servers);
    }
    return servers;
  }

  /** Seeds the demo polls and kiosks through the admin API (idempotent: the file is reused). */
  async seed(
    apiUrl: string,
    kiosks: number,
  ): Promise<{ kiosks: SeededKiosk[]; polls: SeededPoll[] }> {
    const report = await seed({
      apiUrl,
      adminToken: DEFAULT_ADMIN_TOKEN,
      kiosks,
      // The default school's demo: its kiosks may vote in every poll the load picks.
      schools: 0,
      file: join(this.#dir, "kiosks.json"),
    });
    return { kiosks: report.content.kiosks.slice(0, kiosks), polls: report.content.polls };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([
      ...[...this.#nats.values()].map((n) => n.destroy()),
      this.redis.destroy(),
      this.postgres.destroy(),
    ]);
    await rm(this.#dir, { recursive: true, force: true });
  }
}
