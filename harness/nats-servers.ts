import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/bench/processes.ts";
import { waitForPort } from "./ports.ts";

// The chaos suite's own nats-server processes: one node for the single-server faults, and
// a 3-node JetStream cluster (routes between them, a store dir each) for the leader kill.
// A node can be killed (-9) and started again on the same ports, with its store or with
// an empty one (a replaced machine).

export class NatsNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number | undefined;
  readonly #storeDir: string;
  #routes: string[] = [];
  #process: ChildProcess | undefined;

  constructor(name: string, port: number, storeDir: string, clusterPort?: number) {
    this.name = name;
    this.port = port;
    this.#storeDir = storeDir;
    this.clusterPort = clusterPort;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  set routes(urls: string[]) {
    this.#routes = urls;
  }

  get running(): boolean {
    const p = this.#process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async start(): Promise<void> {
    await mkdir(this.#storeDir, { recursive: true });
    const args = ["-a", "127.0.0.1", "-p", String(this.port), "-n", this.name];
    args.push("-js", "-sd", this.#storeDir);
    if (this.clusterPort !== undefined) {
      args.push("--cluster_name", "tf-chaos", "--cluster", `nats://127.0.0.1:${this.clusterPort}`);
      if (this.#routes.length > 0) args.push("--routes", this.#routes.join(","));
    }
    const bin = process.env.NATS_SERVER_BIN ?? "nats-server";
    this.#process = spawn(bin, args, { stdio: "ignore" });
    await waitForPort(this.port, `nats-server ${this.name}`, this.#process);
  }

  /** kill -9. */
  async kill(): Promise<void> {
    const child = this.#process;
    if (!child || !this.running) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }

  /** Empties the store (call while stopped): the node comes back as a new machine would. */
  async wipeStore(): Promise<void> {
    await rm(this.#storeDir, { recursive: true, force: true });
  }
}

export class NatsServers {
  readonly nodes: NatsNode[];
  readonly #dir: string;

  private constructor(nodes: NatsNode[], dir: string) {
    this.nodes = nodes;
    this.#dir = dir;
  }

  /** One node, or `size` nodes routed into one cluster (JetStream needs 3 for replicas 3). */
  static async create(size: number): Promise<NatsServers> {
    const dir = await mkdtemp(join(tmpdir(), "tf-chaos-nats-"));
    const nodes: NatsNode[] = [];
    for (let i = 1; i <= size; i++) {
      const clusterPort = size > 1 ? await freePort() : undefined;
      nodes.push(new NatsNode(`n${i}`, await freePort(), join(dir, `n${i}`), clusterPort));
    }
    for (const node of nodes)
      node.routes = nodes
        .filter((n) => n !== node && n.clusterPort !== undefined)
        .map((n) => `nats://127.0.0.1:${n.clusterPort}`);
    const servers = new NatsServers(nodes, dir);
    try {
      await Promise.all(nodes.map((n) => n.start()));
    } catch (err) {
      await servers.destroy();
      throw err;
    }
    return servers;
  }

  /** The services' NATS_URL: every node, comma-separated. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no NATS node named ${name}`);
    return node;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.#dir, { recursive: true, force: true });
  }
}
