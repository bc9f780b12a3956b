import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { freePort } from "../bench/processes.ts";
import { waitForPort } from "./ports.ts";

/**
 * A redis-server of the chaos suite's own, without persistence: killed and started again,
 * it comes back empty, which is the "Redis restarted empty" fault.
 */
export class PrivateRedis {
  readonly port: number;
  #process: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async create(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER_BIN ?? "redis-server";
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    this.#process = spawn(bin, [...args, "--appendonly", "no"], { stdio: "ignore" });
    await waitForPort(this.port, "redis-server", this.#process);
  }

  /** kill -9: with no persistence, everything it held is gone. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
  }
}
