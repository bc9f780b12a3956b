import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { canConnect } from "../harness/ports.ts";
import { freePort } from "../scripts/bench/processes.ts";

/**
 * A private nats-server (JetStream on, file store in a temp dir) that a test can stop and
 * start again on the same port, for outage tests that must not disturb the shared server.
 */
export class PrivateNatsServer {
  readonly port: number;
  readonly #storeDir: string;
  #process: ChildProcess | undefined;

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.#storeDir = storeDir;
  }

  static async create(): Promise<PrivateNatsServer> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), "tf-nats-"));
    const server = new PrivateNatsServer(port, dir);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.NATS_SERVER_BIN ?? "nats-server";
    this.#process = spawn(
      bin,
      ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.#storeDir],
      {
        stdio: "ignore",
      },
    );
    // Generous: on a loaded machine a JetStream server can take seconds to listen.
    const child = this.#process;
    for (let i = 0; i < 400 && child.exitCode === null; i++) {
      if (await canConnect(this.port)) return;
      await sleep(50);
    }
    throw new Error(`nats-server did not start on port ${this.port}`);
  }

  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /**
   * Stops the server and starts it again on the same port with an empty store: a new node,
   * a lost volume. Every stream, consumer and duplicate window it held is gone.
   */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await rm(this.#storeDir, { recursive: true, force: true });
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.#storeDir, { recursive: true, force: true });
  }
}
