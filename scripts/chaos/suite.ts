import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { createLogger } from "../../common/logger.ts";
import { createPool } from "../../common/postgres.ts";
import { connectRedis, type RedisClient } from "../../common/redis.ts";
import { resultsKeys } from "../../common/results-contract.ts";
import type { PrivateNatsCluster } from "../../harness/nats-servers.ts";
import { checkAfterFault } from "./check.ts";
import type { ChaosEnvironment } from "./environment.ts";
import type { Fault, FaultOutcome } from "./faults.ts";
import { MixedLoad } from "./load.ts";
import { System } from "./system.ts";

// Runs the selected faults in turn, each under its own steady load: warm up, inject,
// keep the load on until the system healed (or the bound passed) and a while after, stop
// the load, let the pipeline drain, check. The single-node faults share one NATS server
// and one set of service processes; the leader kill gets a 3-node cluster and its own.
// A fault that failed leaves the services restarted for the next one, so one failure
// does not spill into the rest of the table.

const STREAM_NAME = "VOTES";
const CONSUMER_NAME = "batch-writer";
const REDIS_KEY_PREFIX = "tallyflow:";
/** The live poll whose published version shows that results flow again. */
const HEAL_POLL = "demo-lunch";

export interface SuiteOptions {
  faults: Fault[];
  ratePerS: number;
  kiosks: number;
  /** Load before the fault. */
  warmupMs: number;
  /** Load after the system healed. */
  afterMs: number;
  /** A fault that has not healed within this (from its end) fails. */
  healTimeoutMs: number;
  postgresOutageMs: number;
  leaderDownMs: number;
  drainTimeoutMs: number;
  resultsIntervalMs: number;
  serviceLogLevel: string;
  log: (line: string) => void;
}

export interface FaultResult {
  fault: string;
  description: string;
  accepted: number;
  stored: number;
  lost: number;
  extra: number;
  doubleCounted: number;
  /** Distinct seconds in which some request got a 503 or no answer. */
  unavailableSeconds: number;
  /** Seconds from the fault's end to the first 202, and to a new published version. */
  heal202S: number | undefined;
  healResultsS: number | undefined;
  healed: boolean;
  ok: boolean;
  note: string;
  problems: string[];
}

export async function runSuite(env: ChaosEnvironment, o: SuiteOptions): Promise<FaultResult[]> {
  const results: FaultResult[] = [];
  const logger = createLogger("silent", { service: "chaos" });
  const pool = createPool(env.databaseUrl, logger, { max: 3, applicationName: "chaos" });
  const redis = await connectRedis(env.redis.url, logger, "chaos");
  try {
    for (const cluster of [false, true]) {
      const faults = o.faults.filter((f) => f.cluster === cluster);
      if (faults.length === 0) continue;
      const nats = await env.nats(cluster ? 3 : 1);
      const system = await System.create({
        databaseUrl: env.databaseUrl,
        natsUrl: nats.url,
        natsEnv: env.natsUsers.env,
        redisUrl: env.redis.url,
        streamReplicas: cluster ? 3 : 1,
        resultsIntervalMs: o.resultsIntervalMs,
        logLevel: o.serviceLogLevel,
      });
      try {
        await system.start();
        const { kiosks, polls } = await env.seed(system.apiUrl, o.kiosks);
        let restart = false;
        for (const fault of faults) {
          if (restart) {
            o.log("restarting the services after a failed fault");
            await system.stop();
          }
          await system.start();
          o.log(`fault ${fault.name}: ${fault.description}`);
          const load = new MixedLoad({
            apiUrl: system.apiUrl,
            kiosks,
            polls,
            ratePerS: o.ratePerS,
            batchShare: 0.5,
            batchSize: 10,
            resendShare: 0.03,
            maxInFlight: 256,
            secondVoteShare: 0.05,
          });
          load.start();
          await sleep(o.warmupMs);
          const inFlight = await pipelineBacklog(nats, STREAM_NAME, CONSUMER_NAME);
          const outcome: FaultOutcome = await fault
            .inject({
              system,
              postgres: env.postgres,
              redis: env.redis,
              nats,
              streamName: STREAM_NAME,
              postgresOutageMs: o.postgresOutageMs,
              leaderDownMs: o.leaderDownMs,
            })
            .catch((err: unknown) => ({
              healFrom: Date.now(),
              problems: [`the fault could not be injected: ${describe(err)}`],
            }));
          const heal = await watchHealing(load, redis, outcome.healFrom, o);
          await load.stop();
          o.log(`fault ${fault.name}: load stopped; waiting for the pipeline to drain`);
          const check = await checkAfterFault(load, {
            pool,
            redis,
            redisKeyPrefix: REDIS_KEY_PREFIX,
            natsUrl: nats.nodes[0]!.url,
            natsAuth: nats.adminAuth,
            streamName: STREAM_NAME,
            consumerName: CONSUMER_NAME,
            kioskIds: kiosks.map((k) => k.id),
            drainTimeoutMs: o.drainTimeoutMs,
            publishTimeoutMs: o.drainTimeoutMs,
          }).catch((err: unknown) => ({
            // Unknown rather than guessed: the row fails with the reason.
            stored: 0,
            lost: 0,
            extra: 0,
            doubleCounted: 0,
            reconcileDifferences: 0,
            problems: [`the check failed, counts unknown: ${describe(err)}`],
          }));
          const healed = heal.heal202S !== undefined && heal.healResultsS !== undefined;
          const problems = [...(outcome.problems ?? []), ...check.problems];
          if (heal.heal202S === undefined)
            problems.push(`no 202 within ${o.healTimeoutMs / 1000} s of the fault's end`);
          if (heal.healResultsS === undefined)
            problems.push(
              `no new published version within ${o.healTimeoutMs / 1000} s of the fault's end`,
            );
          const crashed = system.crashed();
          if (crashed.length > 0) problems.push(`exited by themselves: ${crashed.join(", ")}`);
          const result: FaultResult = {
            fault: fault.name,
            description: fault.description,
            accepted: load.accepted.size,
            stored: check.stored,
            lost: check.lost,
            extra: check.extra,
            doubleCounted: check.doubleCounted,
            unavailableSeconds: new Set(load.unavailableAt.map((t) => Math.floor(t / 1000))).size,
            heal202S: heal.heal202S,
            healResultsS: heal.healResultsS,
            healed,
            ok: problems.length === 0,
            note: [
              `${inFlight} messages not yet acked by the writer when injected`,
              load.refused.size > 0
                ? `refused, as they must be: ${[...load.refused].map(([code, n]) => `${code} ${n}`).join(", ")}`
                : undefined,
              outcome.note,
            ]
              .filter((n) => n !== undefined)
              .join("; "),
            problems,
          };
          results.push(result);
          o.log(
            `fault ${fault.name}: ${result.ok ? "PASS" : "FAIL"} (${result.accepted} accepted, ${result.stored} stored)` +
              problems.map((p) => `\n  - ${p}`).join(""),
          );
          restart = !result.ok;
        }
      } finally {
        await system.stop();
      }
    }
  } finally {
    await redis.close().catch(() => {});
    await pool.end();
  }
  return results;
}

/**
 * Keeps the load on until both a 202 came back and a new results version was published
 * after the fault's end (or the bound passed), and at least `afterMs` after that.
 */
async function watchHealing(
  load: MixedLoad,
  redis: RedisClient,
  healFrom: number,
  o: SuiteOptions,
): Promise<{ heal202S: number | undefined; healResultsS: number | undefined }> {
  const key = resultsKeys(REDIS_KEY_PREFIX, HEAL_POLL).version;
  const baseline = await readVersion(redis, key);
  let heal202S: number | undefined;
  let healResultsS: number | undefined;
  const deadline = healFrom + o.healTimeoutMs;
  while (Date.now() < deadline && (heal202S === undefined || healResultsS === undefined)) {
    if (heal202S === undefined) {
      const at = load.okAt.find((t) => t >= healFrom);
      if (at !== undefined) heal202S = (at - healFrom) / 1000;
    }
    if (healResultsS === undefined) {
      const version = await readVersion(redis, key);
      if (version !== null && version !== baseline) healResultsS = (Date.now() - healFrom) / 1000;
    }
    await sleep(100);
  }
  const endAt = Math.max(Date.now(), healFrom) + o.afterMs;
  await sleep(Math.max(0, endAt - Date.now()));
  return { heal202S, healResultsS };
}

/**
 * Messages the writers have not acked yet (waiting or in hand) as the fault strikes:
 * shows that it hit the pipeline with votes in flight. "?" when NATS cannot tell.
 */
async function pipelineBacklog(
  nats: PrivateNatsCluster,
  stream: string,
  consumer: string,
): Promise<string> {
  try {
    const nc = await nats.connect(2_000);
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      const info = await jsm.consumers.info(stream, consumer);
      return String(info.num_pending + info.num_ack_pending);
    } finally {
      await nc.close();
    }
  } catch {
    return "?";
  }
}

/** The published version, or null when absent or Redis cannot answer right now. */
async function readVersion(redis: RedisClient, key: string): Promise<string | null> {
  try {
    return await redis.get(key);
  } catch {
    return null;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
