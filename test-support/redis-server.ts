import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "redis";
import { freePort } from "../scripts/bench/processes.ts";

/**
 * A private redis-server without persistence (as in docker-compose.yml), for outage tests
 * that must never touch the shared Redis: restartEmpty() kills it and starts a new one on
 * the same port, which is what a Redis without persistence looks like after a restart.
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

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER_BIN ?? "redis-server";
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    this.#process = spawn(bin, [...args, "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; i < 200; i++) {
      if (await pong(this.port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
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

  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Kill and start again on the same port: every key is gone. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
  }
}

/** Whether a Redis on this port answers PING (listening is not enough: it may be loading). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}
