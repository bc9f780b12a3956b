import { execFile, execFileSync } from "node:child_process";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freePort } from "./ports.ts";
import { eventually } from "./waiting.ts";

const run = promisify(execFile);

/** Where Debian's postgresql-15 puts initdb and pg_ctl; CHAOS_PG_BIN overrides it. */
const PG_BIN = process.env.CHAOS_PG_BIN ?? "/usr/lib/postgresql/15/bin";

// initdb and pg_ctl refuse to run as root. As root they run as the `postgres` user through
// runuser, in a temp dir that user owns; as anyone else they run as that user.
const asRoot = process.getuid?.() === 0;

function postgresOwner(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

async function pgTool(tool: string, args: string[]): Promise<string> {
  const bin = join(PG_BIN, tool);
  const { stdout } = asRoot
    ? await run("runuser", ["-u", "postgres", "--", bin, ...args])
    : await run(bin, args);
  return stdout;
}

/**
 * A Postgres cluster of its own (initdb in a temp dir, on a free port, fsync off: the
 * chaos suite kills processes, not the machine), which can be stopped, started and killed
 * without touching the shared server.
 */
export class PrivatePostgres {
  readonly port: number;
  readonly #dir: string;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.#dir = dir;
  }

  static async create(): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), "tf-chaos-pg-"));
    if (asRoot) {
      const { uid, gid } = postgresOwner();
      await chown(dir, uid, gid);
    }
    const pg = new PrivatePostgres(await freePort(), dir);
    await pgTool("initdb", [
      "-D",
      pg.#dataDir,
      "-U",
      "postgres",
      "-A",
      "trust",
      "--no-sync",
      "-E",
      "UTF8",
    ]);
    await pg.start();
    return pg;
  }

  get #dataDir(): string {
    return join(this.#dir, "data");
  }

  /** The server; the database itself is created by the migration (ensureDatabase). */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${this.#dir}`,
      // fsync off: a killed process leaves its writes in the OS cache, so the data
      // survives every fault here. synchronous_commit stays on: off, a commit may still
      // sit in shared memory when the server is killed, and the suite measured that loss.
      "-c fsync=off",
      "-c full_page_writes=off",
      "-c max_connections=100",
    ].join(" ");
    await pgTool("pg_ctl", [
      "-D",
      this.#dataDir,
      "-l",
      join(this.#dir, "server.log"),
      "-o",
      options,
      "-w",
      "-t",
      "60",
      "start",
    ]);
  }

  /** A clean stop that ends every session ("fast": what an operator's restart does). */
  async stop(): Promise<void> {
    await pgTool("pg_ctl", ["-D", this.#dataDir, "-m", "fast", "-w", "stop"]);
  }

  /**
   * kill -9 of the postmaster. Its backends exit as soon as they notice, and the next
   * start runs crash recovery; it is retried until the last of them let go of the
   * shared memory.
   */
  async kill(): Promise<void> {
    const pid = await this.pid();
    if (pid !== undefined) killQuietly(pid);
  }

  /** start(), retried while the previous server's processes are still exiting. */
  async startAfterCrash(timeoutMs = 30_000): Promise<void> {
    await eventually(
      `Postgres on port ${this.port} starts after a crash`,
      async () => {
        await this.start();
        return true;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** The postmaster's pid, from postmaster.pid (undefined when it is not running). */
  async pid(): Promise<number | undefined> {
    try {
      const text = await readFile(join(this.#dataDir, "postmaster.pid"), "utf8");
      const pid = Number(text.split("\n", 1)[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops it at once (also after a failed run) and removes its files. Safe to call twice. */
  async destroy(): Promise<void> {
    const pid = await this.pid();
    if (pid !== undefined) {
      try {
        await pgTool("pg_ctl", ["-D", this.#dataDir, "-m", "immediate", "-w", "-t", "20", "stop"]);
      } catch {
        killQuietly(pid);
        await sleep(500);
      }
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}
