import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { canConnect } from "../harness/ports.ts";
import { freePort } from "../scripts/bench/processes.ts";

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  storeDir: string;
  process: ChildProcess | undefined;
  /** The last few KB the server printed, for a failure message. */
  output: string;
}

/**
 * Three private nats-server processes routed into one JetStream cluster (each its own
 * store dir, client and route ports), so a test can kill a stream's leader without touching
 * the shared server. The same shape as docker-compose.cluster.yml, on free local ports.
 */
export class PrivateNatsCluster {
  readonly #clusterName = `tf-${randomBytes(4).toString("hex")}`;
  readonly #nodes: Node[];

  private constructor(nodes: Node[]) {
    this.#nodes = nodes;
  }

  static async create(size = 3): Promise<PrivateNatsCluster> {
    const nodes: Node[] = [];
    // freePort() may hand out a port it returned a moment ago: take each at most once.
    const taken = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (taken.has(p)) continue;
        taken.add(p);
        return p;
      }
    };
    for (let i = 1; i <= size; i++)
      nodes.push({
        name: `n${i}`,
        port: await port(),
        clusterPort: await port(),
        storeDir: await mkdtemp(join(tmpdir(), `tf-nats-${i}-`)),
        process: undefined,
        output: "",
      });
    const cluster = new PrivateNatsCluster(nodes);
    try {
      for (const node of nodes) await cluster.start(node.name);
      await cluster.#jetStreamReady();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** Every server, comma-separated: what NATS_URL is set to. */
  get url(): string {
    return this.#nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(",");
  }

  /** The servers running now: for a test's own short-lived connections after a kill. */
  get liveUrl(): string {
    return this.#nodes
      .filter((n) => n.process && n.process.exitCode === null && n.process.signalCode === null)
      .map((n) => `nats://127.0.0.1:${n.port}`)
      .join(",");
  }

  get names(): string[] {
    return this.#nodes.map((n) => n.name);
  }

  async start(name: string): Promise<void> {
    const node = this.#node(name);
    const routes = this.#nodes.map((n) => `nats://127.0.0.1:${n.clusterPort}`).join(",");
    node.process = spawn(
      process.env.NATS_SERVER_BIN ?? "nats-server",
      [
        ["-a", "127.0.0.1", "-p", String(node.port)],
        ["-js", "-sd", node.storeDir, "--server_name", node.name],
        ["--cluster_name", this.#clusterName, "--cluster", `nats://127.0.0.1:${node.clusterPort}`],
        ["--routes", routes],
      ].flat(),
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    node.output = "";
    node.process.stderr?.on("data", (chunk: Buffer) => {
      node.output = (node.output + chunk.toString()).slice(-4_096);
    });
    const child = node.process;
    for (let i = 0; i < 400 && child.exitCode === null; i++) {
      if (await canConnect(node.port)) return;
      await sleep(50);
    }
    throw new Error(`nats-server ${name} did not start on port ${node.port}:\n${node.output}`);
  }

  /** SIGKILL: the node dies mid-write, as on a crash or a lost host. */
  async kill(name: string): Promise<void> {
    const child = this.#node(name).process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async destroy(): Promise<void> {
    for (const node of this.#nodes) {
      await this.kill(node.name);
      await rm(node.storeDir, { recursive: true, force: true });
    }
  }

  #node(name: string): Node {
    const node = this.#nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name} in the cluster`);
    return node;
  }

  /** Routes up and a JetStream meta leader elected: account info answers. */
  async #jetStreamReady(): Promise<void> {
    const nc = await connect({ servers: this.url.split(",") });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      let lastError: unknown;
      for (let i = 0; i < 60; i++) {
        try {
          await jsm.getAccountInfo();
          return;
        } catch (err) {
          lastError = err;
          await sleep(500);
        }
      }
      throw new Error("the JetStream cluster elected no meta leader", { cause: lastError });
    } finally {
      await nc.close();
    }
  }
}
