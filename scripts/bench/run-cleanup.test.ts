import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { createClient } from "redis";
import { dropDatabase, ensureDatabase } from "../../common/postgres.ts";
import { removeBenchRun } from "./run-cleanup.ts";
import { benchRun } from "./run-names.ts";

// Every bench removes its run through removeBenchRun: what it leaves on the shared services
// is this test's to prove (the run's keys, stream and database gone, nothing else touched).

const run = benchRun("cleanup");
const outsider = `${run.names.redisKeyPrefix.replace(/:$/, "")}-outside:key`;
const redis = createClient({ url: run.redisUrl });
await redis.connect();

after(async () => {
  await redis.del(outsider);
  await redis.close();
  await dropDatabase(run.databaseUrl).catch(() => {});
});

async function databaseExists(): Promise<boolean> {
  const admin = new pg.Client({
    connectionString: run.databaseUrl.replace(/\/[^/]+$/, "/postgres"),
  });
  await admin.connect();
  try {
    const { rowCount } = await admin.query("select 1 from pg_database where datname = $1", [
      run.names.database,
    ]);
    return rowCount === 1;
  } finally {
    await admin.end();
  }
}

async function streamExists(): Promise<boolean> {
  const nc = await connect({ servers: run.natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.info(run.names.stream).then(
      () => true,
      () => false,
    );
  } finally {
    await nc.close();
  }
}

async function makeRun(): Promise<void> {
  await ensureDatabase(run.databaseUrl);
  const nc = await connect({ servers: run.natsUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: run.names.stream, subjects: [`${run.names.subjectPrefix}.>`] });
  await nc.close();
  // More keys than one SCAN page, so that the loop over pages is what is tested.
  for (let i = 0; i < 2_500; i += 500)
    await redis.mSet(
      Array.from(
        { length: 500 },
        (_, j) => [`${run.names.redisKeyPrefix}k${i + j}`, "x"] as [string, string],
      ),
    );
}

test("a run's Redis keys (every SCAN page), stream and database go; a key outside its prefix stays", async () => {
  await redis.set(outsider, "kept");
  await makeRun();
  assert.equal(await databaseExists(), true);
  const lines: string[] = [];
  await removeBenchRun(run, (l) => lines.push(l));
  assert.deepEqual(lines, []);
  assert.equal(await databaseExists(), false);
  assert.equal(await streamExists(), false);
  assert.deepEqual(await redis.keys(`${run.names.redisKeyPrefix}*`), []);
  assert.equal(await redis.get(outsider), "kept");
});

test("--keep leaves the database and says so; the stream and keys still go", async () => {
  await makeRun();
  const lines: string[] = [];
  await removeBenchRun(run, (l) => lines.push(l), { keep: true });
  assert.deepEqual(lines, [`kept the database: ${run.databaseUrl}`]);
  assert.equal(await databaseExists(), true);
  assert.equal(await streamExists(), false);
  assert.deepEqual(await redis.keys(`${run.names.redisKeyPrefix}*`), []);
});
