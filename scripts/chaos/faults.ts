import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import type { PrivateNatsCluster } from "../../harness/nats-servers.ts";
import type { PrivatePostgres } from "../../harness/private-postgres.ts";
import type { PrivateRedis } from "../../harness/private-redis.ts";
import { CliError } from "../cli.ts";
import type { ServiceName, System } from "./system.ts";

// The faults, one small function each. A fault returns when it is over (the killed
// process runs again, the server is back) and says from when healing is timed: the end
// of the outage, or for a leader kill the kill itself (the cluster must heal while the
// node is still down).

export interface FaultContext {
  system: System;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  nats: PrivateNatsCluster;
  streamName: string;
  postgresOutageMs: number;
  /** How long the killed JetStream leader stays down before it is started again. */
  leaderDownMs: number;
}

export interface FaultOutcome {
  /** Date.now() from which the time to heal counts. */
  healFrom: number;
  note?: string;
  /** The fault could not be injected as meant (it then fails, whatever the counts say). */
  problems?: string[];
}

export interface Fault {
  name: string;
  description: string;
  /** Runs against the 3-node NATS cluster instead of the single node. */
  cluster: boolean;
  inject(ctx: FaultContext): Promise<FaultOutcome>;
}

function killService(name: ServiceName, label: string): Fault {
  return {
    name: `kill-${name}`,
    description: `kill -9 of the ${label}, then started again`,
    cluster: false,
    async inject({ system }) {
      await system.kill(name);
      // Healing counts from the restart, so the new process's start-up is part of it.
      const restartedAt = Date.now();
      await system.startService(name);
      return { healFrom: restartedAt };
    },
  };
}

export const FAULTS: readonly Fault[] = [
  killService("api", "ingest API"),
  killService("writer", "batch writer"),
  killService("publisher", "result publisher"),
  {
    name: "postgres-stop",
    description: "Postgres stopped (fast shutdown), started again after the outage",
    cluster: false,
    async inject({ postgres, postgresOutageMs }) {
      await postgres.stop();
      await sleep(postgresOutageMs);
      await postgres.start();
      return { healFrom: Date.now(), note: `down ${(postgresOutageMs / 1000).toFixed(0)} s` };
    },
  },
  {
    name: "postgres-kill",
    description: "kill -9 of the Postgres postmaster, started again at once (crash recovery)",
    cluster: false,
    async inject({ postgres }) {
      await postgres.kill();
      await postgres.startAfterCrash();
      return { healFrom: Date.now() };
    },
  },
  {
    name: "redis-empty",
    description: "Redis killed and started again empty (no persistence)",
    cluster: false,
    async inject({ redis }) {
      await redis.stop();
      await redis.start();
      return { healFrom: Date.now() };
    },
  },
  {
    name: "nats-restart",
    description: "nats-server killed and started again with its store",
    cluster: false,
    async inject({ nats }) {
      const node = nats.nodes[0]!;
      await node.kill();
      await node.start();
      return { healFrom: Date.now() };
    },
  },
  {
    name: "nats-wipe",
    description: "nats-server killed and started again WITHOUT its store (a replaced node)",
    cluster: false,
    async inject({ nats }) {
      const node = nats.nodes[0]!;
      await node.kill();
      await node.wipeStore();
      await node.start();
      return { healFrom: Date.now(), note: "stream and consumer gone" };
    },
  },
  {
    name: "leader-kill",
    description: "the VOTES stream's leader of the 3-node cluster killed, restarted later",
    cluster: true,
    async inject({ nats, streamName, leaderDownMs }) {
      const before = await streamCluster(nats, streamName);
      const leader = nats.node(before.leader);
      await leader.kill();
      const killedAt = Date.now();
      await sleep(leaderDownMs);
      const during = await streamCluster(nats, streamName).catch(() => undefined);
      await leader.start();
      return {
        healFrom: killedAt,
        // With one replica the "leader" is the only copy: its kill is an outage until the
        // restart, not a failover, so the fault did not test what it is for.
        problems:
          before.replicas < 3
            ? [
                `the stream has ${before.replicas} replica(s), not 3: STREAM_REPLICAS is not applied`,
              ]
            : [],
        note:
          `replicas ${before.replicas}, leader ${before.leader} killed` +
          (during ? `, ${during.leader || "no leader"} led while it was down` : ""),
      };
    },
  },
];

/** The stream's replica count and current leader (server name), asked of a running node. */
async function streamCluster(
  nats: PrivateNatsCluster,
  streamName: string,
): Promise<{ replicas: number; leader: string }> {
  const nc = await nats.connect();
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const info = await jsm.streams.info(streamName);
    return { replicas: info.config.num_replicas, leader: info.cluster?.leader ?? "" };
  } finally {
    await nc.close();
  }
}

export function selectFaults(names: string[] | undefined): Fault[] {
  if (names === undefined || names.length === 0) return [...FAULTS];
  return names.map((name) => {
    const fault = FAULTS.find((f) => f.name === name);
    if (!fault)
      throw new CliError(
        `--faults: unknown fault "${name}"; known: ${FAULTS.map((f) => f.name).join(", ")}`,
      );
    return fault;
  });
}
