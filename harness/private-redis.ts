import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { createClient } from "redis";
import { freePort } from "./ports.ts";
import { eventually } from "./waiting.ts";

/**
 * A private redis-server without persistence (as in docker-compose.yml), for the chaos
 * suite and the outage tests, which must never touch the shared Redis: stop() is kill -9,
 * and started again it comes back empty, which is "Redis restarted empty".
 */
export class PrivateRedis {
  readonly port: number;
  readonly #extraArgs: readonly string[];
  #process: ChildProcess | undefined;

  private constructor(port: number, extraArgs: readonly string[]) {
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  /** `extraArgs`: more redis-server options, e.g. ["--aclfile", path]. */
  static async create(extraArgs: readonly string[] = []): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), extraArgs);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const bin = process.env.REDIS_SERVER_BIN ?? "redis-server";
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", ""];
    const child = spawn(bin, [...args, "--appendonly", "no", ...this.#extraArgs], {
      stdio: "ignore",
    });
    this.#process = child;
    const state = await eventually(`redis-server answers PING on port ${this.port}`, async () =>
      child.exitCode !== null ? "exited" : (await pong(this.port)) && "ready",
    );
    if (state === "exited")
      throw new Error(`redis-server exited with code ${child.exitCode} on port ${this.port}`);
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

  /** kill -9: with no persistence, everything it held is gone. */
  async stop(): Promise<void> {
    const child = this.#process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /**
   * SIGSTOP: the server keeps its connections open but reads, runs and answers nothing (a
   * Redis stalled: a slow fork or disk, a host paused). Its clients' writes pile up in the
   * kernel's buffers and then in the client: backpressure. resume() lets it go on, with
   * everything it held and every byte sent to it meanwhile.
   */
  pause(): void {
    this.#process?.kill("SIGSTOP");
  }

  /** SIGCONT: a paused server goes on where it stopped. */
  resume(): void {
    this.#process?.kill("SIGCONT");
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
    // NOAUTH: it answers, and lets in only users (an ACL file with the default user off).
    socket.once("data", (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}
