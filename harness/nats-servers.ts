import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsAuth, natsConnectAuth, readNatsAuth } from "../common/nats-auth.ts";
import { freePort, freePorts, waitForPort } from "./ports.ts";
import { REPO_ROOT } from "./repo-root.ts";
import { eventually } from "./waiting.ts";

// Private nats-server processes (JetStream on, a store dir each, on free local ports) for
// the outage tests and the chaos suite, which must never disturb the shared server: one
// server, or a JetStream cluster (routes between the nodes, the shape of
// docker-compose.cluster.yml). A node can be killed (-9) and started again on the same
// ports, with its store or with an empty one (a replaced machine). With `users`, the
// servers run the shipped docs/nats/accounts.conf: only its users get in, each with its
// permissions, and their passwords are made up for this run.

/** The users of docs/nats/accounts.conf with passwords of this run. */
export interface NatsUsers {
  /** The server's configuration file. */
  readonly configFile: string;
  /** NATS_API_PASSWORD, NATS_WRITER_PASSWORD, NATS_MIGRATE_PASSWORD: for the server and the services. */
  readonly env: Readonly<Record<string, string>>;
}

export function privateNatsUsers(): NatsUsers {
  // A letter first: nats-server reads a leading digit as a number (common/nats-auth.ts).
  const password = () => `pw${randomBytes(16).toString("hex")}`;
  return {
    configFile: join(REPO_ROOT, "docs/nats/accounts.conf"),
    env: {
      NATS_API_PASSWORD: password(),
      NATS_WRITER_PASSWORD: password(),
      NATS_MIGRATE_PASSWORD: password(),
    },
  };
}

export class NatsNode {
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number | undefined;
  readonly #storeDir: string;
  readonly #users: NatsUsers | undefined;
  #cluster: { name: string; routes: string[] } | undefined;
  #process: ChildProcess | undefined;
  /** The last few KB the server printed, for a failure message. */
  #output = "";

  constructor(
    name: string,
    port: number,
    storeDir: string,
    clusterPort?: number,
    users?: NatsUsers,
  ) {
    this.name = name;
    this.port = port;
    this.#storeDir = storeDir;
    this.clusterPort = clusterPort;
    this.#users = users;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Joins this node to the cluster `name` through the other nodes' route URLs. */
  set cluster(cluster: { name: string; routes: string[] }) {
    this.#cluster = cluster;
  }

  get running(): boolean {
    const p = this.#process;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async start(): Promise<void> {
    await mkdir(this.#storeDir, { recursive: true });
    // The flags after the file override what it sets.
    const args = this.#users ? ["-c", this.#users.configFile] : [];
    args.push("-a", "127.0.0.1", "-p", String(this.port), "-n", this.name);
    args.push("-js", "-sd", this.#storeDir);
    if (this.#cluster && this.clusterPort !== undefined) {
      const { name, routes } = this.#cluster;
      args.push("--cluster_name", name, "--cluster", `nats://127.0.0.1:${this.clusterPort}`);
      if (routes.length > 0) args.push("--routes", routes.join(","));
    }
    const bin = process.env.NATS_SERVER_BIN ?? "nats-server";
    const child = spawn(bin, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...this.#users?.env },
    });
    this.#process = child;
    this.#output = "";
    child.stderr.on("data", (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4_096);
    });
    try {
      await waitForPort(this.port, `nats-server ${this.name}`, child);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.#output}`, { cause: err });
    }
  }

  /** kill -9: the node dies mid-write, as on a crash or a lost host. */
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

/** One nats-server that a test can stop and start again on the same port. */
export class PrivateNatsServer {
  readonly #node: NatsNode;
  readonly #dir: string;

  private constructor(node: NatsNode, dir: string) {
    this.#node = node;
    this.#dir = dir;
  }

  static async create(users?: NatsUsers): Promise<PrivateNatsServer> {
    const dir = await mkdtemp(join(tmpdir(), "tf-nats-"));
    const node = new NatsNode("n1", await freePort(), join(dir, "store"), undefined, users);
    const server = new PrivateNatsServer(node, dir);
    try {
      await server.start();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  get port(): number {
    return this.#node.port;
  }

  get url(): string {
    return this.#node.url;
  }

  start(): Promise<void> {
    return this.#node.start();
  }

  stop(): Promise<void> {
    return this.#node.kill();
  }

  /**
   * Stops the server and starts it again on the same port with an empty store: a new node,
   * a lost volume. Every stream, consumer and duplicate window it held is gone.
   */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await this.#node.wipeStore();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * `size` nodes routed into one JetStream cluster (3 for replicas 3), or one node alone
 * (size 1); ready once JetStream answers (routes up, a meta leader elected).
 */
export class PrivateNatsCluster {
  readonly nodes: NatsNode[];
  readonly #dir: string;
  readonly #users: NatsUsers | undefined;

  private constructor(nodes: NatsNode[], dir: string, users: NatsUsers | undefined) {
    this.nodes = nodes;
    this.#dir = dir;
    this.#users = users;
  }

  static async create(size = 3, users?: NatsUsers): Promise<PrivateNatsCluster> {
    const dir = await mkdtemp(join(tmpdir(), "tf-nats-"));
    const clustered = size > 1;
    const ports = await freePorts(clustered ? size * 2 : size);
    const nodes: NatsNode[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const clusterPort = clustered ? ports[size + i] : undefined;
      nodes.push(new NatsNode(name, ports[i]!, join(dir, name), clusterPort, users));
    }
    const clusterName = `tf-${randomBytes(4).toString("hex")}`;
    if (clustered)
      for (const node of nodes)
        node.cluster = {
          name: clusterName,
          routes: nodes.filter((n) => n !== node).map((n) => `nats://127.0.0.1:${n.clusterPort}`),
        };
    const cluster = new PrivateNatsCluster(nodes, dir, users);
    try {
      for (const node of nodes) await node.start();
      await cluster.#jetStreamReady();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** Every server, comma-separated: what NATS_URL is set to. */
  get url(): string {
    return this.nodes.map((n) => n.url).join(",");
  }

  /** Who the harness's and the suite's own connections log in as: the migration's user. */
  get adminAuth(): NatsAuth {
    return readNatsAuth(this.#users?.env ?? {}, "migrate");
  }

  /** A connection as `adminAuth` to the servers running now (a check after a kill). */
  connect(timeoutMs = 5_000): Promise<NatsConnection> {
    return connect({
      servers: this.nodes.filter((n) => n.running).map((n) => n.url),
      timeout: timeoutMs,
      ...natsConnectAuth(this.adminAuth),
    });
  }

  /** The servers running now: for a test's own short-lived connections after a kill. */
  get liveUrl(): string {
    return this.nodes
      .filter((n) => n.running)
      .map((n) => n.url)
      .join(",");
  }

  node(name: string): NatsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no NATS node named ${name}`);
    return node;
  }

  kill(name: string): Promise<void> {
    return this.node(name).kill();
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** Routes up and a JetStream meta leader elected: account info answers. */
  async #jetStreamReady(): Promise<void> {
    const nc = await this.connect();
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false });
      await eventually("the JetStream cluster elects a meta leader", () => jsm.getAccountInfo(), {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
    } finally {
      await nc.close();
    }
  }
}
