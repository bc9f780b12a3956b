import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import { attendanceDayKeys } from "../common/attendance-contract.ts";
import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { storeAttendanceDay } from "../test-support/attendance-days.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { AttendancePublisher } from "./attendance-publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

// Runs that fail part-way (a Redis write refused, or applied with its answer lost, as a
// command cut by a replaced connection under load) and a leadership regained while a run is
// in flight (reset() mid-run, as service.ts does) never leave a past day's document behind
// its rows: the next runs converge on the document a fresh publisher builds. Written while
// looking for bench:attendance's "stale" school-0001 (it was the check: see
// scripts/checks/attendance-caught-up.ts), to rule these paths out.

const names = testNames();
const prefix = names.redisKeyPrefix;
const ZONE = "Europe/Paris";
const DAY = "2025-03-03";
const at = (hhmm: string) => new Date(localInstant(DAY, hhmm, ZONE)).toISOString();
/** The next day at noon: DAY is a past kept day, as the bench's. */
const T = localInstant("2025-03-04", "12:00", ZONE);
const logger = createLogger("silent");

let db: TestDatabase;
let redis: RedisClient;

type Fault = "refused" | "answer lost" | undefined;

/**
 * The real client, with its MULTIs failing as `fault()` says at each exec (`onExec` called
 * first: the moment between a run's read and its writes).
 */
function faulty(fault: () => Fault, onExec: () => void = () => {}): RedisClient {
  return new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop !== "multi") return Reflect.get(target, prop, receiver);
      return () => {
        const multi = target.multi();
        const exec = multi.exec.bind(multi);
        const wrapped = new Proxy(multi, {
          get(m, p, r) {
            if (p === "exec")
              return async () => {
                onExec();
                const f = fault();
                if (f === "refused") throw new Error("injected: command refused");
                const reply = await exec();
                if (f === "answer lost") throw new Error("injected: answer lost");
                return reply;
              };
            const v = Reflect.get(m, p, r);
            // Chained commands return the multi: keep returning the wrapper.
            return typeof v === "function"
              ? (...args: unknown[]) => {
                  const out = v.apply(m, args);
                  return out === m ? wrapped : out;
                }
              : v;
          },
        });
        return wrapped;
      };
    },
  }) as RedisClient;
}

const newPublisher = (client: RedisClient, keyPrefix = prefix) =>
  new AttendancePublisher({
    pool: db.pool,
    redis: client,
    keyPrefix,
    daysKept: 3,
    maxDocumentsPerRun: 100,
    logger,
    metrics: createPublisherMetrics(),
  });

/** The version a fresh publisher (empty prefix, no memory) builds now for oak's DAY. */
async function expectedVersion(): Promise<string> {
  const fresh = `${prefix}fresh${Math.random().toString(36).slice(2, 8)}:`;
  await newPublisher(redis, fresh).run(T);
  return (await redis.get(attendanceDayKeys(fresh, "oak", DAY).version))!;
}

const published = () => redis.get(attendanceDayKeys(prefix, "oak", DAY).version);

before(async () => {
  db = await createTestDatabase(names.database);
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  await db.pool.query("delete from schools where id = 'default'");
  await db.pool.query("insert into schools (id, name, time_zone) values ('oak', 'Oak', $1)", [
    ZONE,
  ]);
  await db.pool.query(
    `insert into people (school_id, id, name, groups, active) values
       ('oak', 'A1', 'Ada', '{7A}', true), ('oak', 'A2', 'Bo', '{7A}', true),
       ('oak', 'A3', 'Cy', '{7B}', true)`,
  );
  for (const p of ["A1", "A2", "A3"])
    await storeAttendanceDay(db.pool, "oak", p, DAY, [{ kind: "in", at: at("08:00") }]);
});

after(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis?.close();
  await db?.drop();
});

describe("attendance publisher runs that fail or are reset part-way", () => {
  for (const fault of ["refused", "answer lost"] as const)
    test(`a write ${fault}: the next run publishes the day's rows`, async () => {
      let failing = false;
      const p = newPublisher(faulty(() => (failing ? fault : undefined)));
      await p.run(T);
      const before = await published();
      // The check-outs come in; the run that would publish them fails at its write.
      for (const person of ["A1", "A2"])
        await storeAttendanceDay(db.pool, "oak", person, DAY, [
          { kind: "in", at: at("08:00") },
          { kind: "out", at: at(fault === "refused" ? "15:00" : "15:30") },
        ]);
      failing = true;
      await assert.rejects(p.run(T), /injected/);
      failing = false;
      // A change between the failed run and the next.
      await storeAttendanceDay(db.pool, "oak", "A3", DAY, [
        { kind: "in", at: at("08:00") },
        { kind: "out", at: at(fault === "refused" ? "16:00" : "16:30") },
      ]);
      await p.run(T);
      await p.run(T);
      const expected = await expectedVersion();
      assert.notEqual(before, expected, "the day changed");
      assert.equal(await published(), expected);
    });

  test("reset() (leadership regained) while a run is between its read and its writes", async () => {
    let resetNow = false;
    const p: AttendancePublisher = newPublisher(
      faulty(
        () => undefined,
        () => {
          if (!resetNow) return;
          resetNow = false;
          p.reset();
          // And a row committed while the run is in flight, after its snapshot.
          void storeAttendanceDay(db.pool, "oak", "A2", DAY, [{ kind: "in", at: at("08:05") }]);
        },
      ),
    );
    await p.run(T);
    await storeAttendanceDay(db.pool, "oak", "A1", DAY, [{ kind: "in", at: at("07:45") }]);
    resetNow = true;
    await p.run(T);
    assert.equal(resetNow, false, "reset between the run's read and its writes");
    // Let the row stored during the run commit.
    await new Promise((r) => setTimeout(r, 200));
    await p.run(T);
    await p.run(T);
    assert.equal(await published(), await expectedVersion());
    // A new publisher of the same prefix (another leader) agrees and rewrites nothing.
    const next = newPublisher(redis);
    assert.deepEqual((await next.run(T)).published, []);
  });
});
