import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { freePort } from "./nats-server.ts";

/**
 * A private, memory-only redis-server for tests that kill its clients or stop it: the
 * shared Redis must never see that. The test ends it with destroy().
 */
export class PrivateRedisServer {
  readonly port: number;
  #process: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async create(): Promise<PrivateRedisServer> {
    const server = new PrivateRedisServer(await freePort());
    await server.start();
    return server;
  }

  /** Starts it (again, empty) on its port. */
  async start(): Promise<void> {
    const child = spawn(
      process.env.REDIS_SERVER_BIN ?? "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    this.#process = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await this.#ping()) return;
      await sleep(50);
    }
    await this.stop();
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** One command on a connection of its own, e.g. ["CLIENT", "KILL", "TYPE", "pubsub"]. */
  async command(args: string[]): Promise<unknown> {
    const client = createClient({ url: this.url });
    client.on("error", () => {});
    await client.connect();
    try {
      return await client.sendCommand(args);
    } finally {
      client.destroy();
    }
  }

  /** SIGKILL: an outage, its data gone. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  destroy(): Promise<void> {
    return this.stop();
  }

  async #ping(): Promise<boolean> {
    try {
      return (await this.command(["PING"])) === "PONG";
    } catch {
      return false;
    }
  }
}
