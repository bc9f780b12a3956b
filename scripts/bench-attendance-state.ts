import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { PrivateRedis } from "../harness/private-redis.ts";
import {
  AttendanceState,
  attendanceStateKeys,
  type PresenceEvent,
  SchoolDays,
} from "../ingest-api/attendance/attendance-state.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { valueVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:attendance-state [-- --schools 1000 --people 10000]`
// The "already checked in" state (ingest-api/attendance/attendance-state.ts) at the reference
// deployment's size: every person of 1,000 schools × 10,000 checked in today, written
// through AttendanceState.record (the API's write after a publish ack: one script call per
// batch of --batch events, --in-flight calls at once) into a redis-server of this run's own
// (harness/private-redis.ts, never the shared one). Printed: the bytes a person costs,
// `used_memory` after the writes against the same server empty (measured in the same run,
// just before), and Σ MEMORY USAGE of the buckets; the buckets' encodings and sizes; the
// writes per second. The reference, in the same run on the same server emptied again: one
// key per person (`SET <school>:<day>:<person> in:<epoch seconds> EXAT <day end>`), the
// obvious layout, at --reference-people people. Target: at most 20 bytes a person.

const USAGE = `usage: npm run bench:attendance-state -- [--schools N] [--people N] [--reference-people N] [--batch N] [--in-flight N]
  --schools N           schools (default 1000)
  --people N            people checked in today per school (default 10000)
  --reference-people N  people of the one-key-per-person reference (default 1000000)
  --batch N             events per AttendanceState.record call (default 1000, a batch request's)
  --in-flight N         record calls at once (default 8)`;

const { SCHOOLS, PEOPLE, REFERENCE_PEOPLE, BATCH, IN_FLIGHT } = readCli(
  {
    usage: USAGE,
    options: {
      schools: { type: "string", default: "1000" },
      people: { type: "string", default: "10000" },
      "reference-people": { type: "string", default: "1000000" },
      batch: { type: "string", default: "1000" },
      "in-flight": { type: "string", default: "8" },
    },
  },
  ({ values }) => ({
    SCHOOLS: intFlag("schools", values.schools, { min: 1 }),
    PEOPLE: intFlag("people", values.people, { min: 1 }),
    REFERENCE_PEOPLE: intFlag("reference-people", values["reference-people"], { min: 1 }),
    BATCH: intFlag("batch", values.batch, { min: 1, max: 10_000 }),
    IN_FLIGHT: intFlag("in-flight", values["in-flight"], { min: 1, max: 256 }),
  }),
);
const TARGET_BYTES = 20;
// The API's defaults (ingest-api/config.ts) and the production key prefix's length.
const BUCKET_BITS = 7;
const MARGIN_MS = 3_600_000;
const PREFIX = "tallyflow:";
// Schools spread over zones as a deployment's are (a +05:45 one too): days differ per zone.
const ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Sydney"];
const logger = createLogger("warn");

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const fixed = (n: number, digits = 1) => n.toFixed(digits);
const schoolId = (s: number) => `school-${String(s).padStart(4, "0")}`;

async function usedMemory(redis: RedisClient): Promise<number> {
  const info = await redis.info("memory");
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error("INFO memory has no used_memory");
  return Number(match[1]);
}

/** Runs `task(i)` for i in [0, count) with at most `inFlight` at once. */
async function pooled(count: number, inFlight: number, task: (i: number) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

/** Keys inspected at once (3 commands each): a loaded machine keeps each under the client's timeout. */
const INSPECT_CHUNK = 1_000;

/** Σ MEMORY USAGE, encodings and entries per hash of every key under `match`. */
async function inspect(redis: RedisClient, match: string) {
  const all: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 10_000 })) all.push(...batch);
  let sum = 0;
  const encodings: Record<string, number> = {};
  const lengths: number[] = [];
  for (let i = 0; i < all.length; i += INSPECT_CHUNK)
    await Promise.all(
      all.slice(i, i + INSPECT_CHUNK).map(async (key) => {
        const [bytes, encoding, length] = await Promise.all([
          redis.memoryUsage(key, { SAMPLES: 0 }),
          redis.objectEncoding(key),
          redis.hLen(key),
        ]);
        sum += bytes ?? 0;
        encodings[String(encoding)] = (encodings[String(encoding)] ?? 0) + 1;
        lengths.push(length);
      }),
    );
  return {
    sum,
    keys: all.length,
    encodings,
    entries: lengths.reduce((a, b) => a + b, 0),
    // reduce, not Math.min(...): 128,000 arguments would overflow the stack.
    min: lengths.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY),
    avg: lengths.reduce((a, b) => a + b, 0) / lengths.length,
    max: lengths.reduce((a, b) => Math.max(a, b), 0),
  };
}

const started = new Date();
const server = await PrivateRedis.create();
const redis = await connectRedis(server.url, logger, "bench-attendance-state");
try {
  const version = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1] ?? "?";
  const config = await redis.configGet("hash-max-listpack-*");
  const state = new AttendanceState(
    redis,
    { keyPrefix: PREFIX, bucketBits: BUCKET_BITS, expiryMarginMs: MARGIN_MS },
    logger,
  );
  const total = SCHOOLS * PEOPLE;
  const nowMs = Date.now();
  const days = new SchoolDays();
  // Each person's check-in within the last hour of their school's day so far (the morning
  // peak), never before the day began.
  const eventOf = (n: number): PresenceEvent => {
    const s = Math.floor(n / PEOPLE);
    const timeZone = ZONES[s % ZONES.length]!;
    const day = days.of(nowMs, timeZone);
    return {
      schoolId: schoolId(s),
      timeZone,
      personId: `P-${String(n % PEOPLE).padStart(6, "0")}`,
      kind: "in",
      atMs: Math.max(day.startMs, nowMs - ((n * 7_919) % 3_600_000)),
    };
  };
  // The state is complete (nothing to restore): the marker a first start writes.
  await redis.set(attendanceStateKeys(PREFIX).restored, "bench");
  // A first record call loads the script: the empty server is measured after it.
  await state.record([eventOf(0)]);
  await redis.flushAll();
  await redis.set(attendanceStateKeys(PREFIX).restored, "bench");
  const empty = await usedMemory(redis);
  log(`writing ${int(total)} check-ins into a private redis-server on port ${server.port}...`);
  const writeStarted = performance.now();
  const calls = Math.ceil(total / BATCH);
  let lastLog = writeStarted;
  await pooled(calls, IN_FLIGHT, async (c) => {
    const events: PresenceEvent[] = [];
    for (let n = c * BATCH; n < Math.min(total, (c + 1) * BATCH); n++) events.push(eventOf(n));
    await state.record(events);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  ${int(((c + 1) / calls) * 100)} %`);
    }
  });
  const writeS = (performance.now() - writeStarted) / 1000;
  const full = await usedMemory(redis);
  const perPerson = (full - empty) / total;
  log("inspecting the buckets...");
  const buckets = await inspect(redis, `${PREFIX}attendance-state:*`);
  if (buckets.entries !== total)
    log(
      `warning: ${int(total - buckets.entries)} people share an entry with another (hash collision?)`,
    );

  log(`reference: ${int(REFERENCE_PEOPLE)} keys of one person each...`);
  await redis.flushAll();
  const refEmpty = await usedMemory(redis);
  const refStarted = performance.now();
  await pooled(Math.ceil(REFERENCE_PEOPLE / BATCH), IN_FLIGHT, async (c) => {
    const writes: Promise<unknown>[] = [];
    for (let n = c * BATCH; n < Math.min(REFERENCE_PEOPLE, (c + 1) * BATCH); n++) {
      const e = eventOf(n);
      const day = days.of(e.atMs, e.timeZone);
      writes.push(
        redis.set(
          `${PREFIX}checked-in:${e.schoolId}:${day.day}:${e.personId}`,
          `in:${Math.floor(e.atMs / 1000)}`,
          { expiration: { type: "EXAT", value: Math.ceil((day.endMs + MARGIN_MS) / 1000) } },
        ),
      );
    }
    await Promise.all(writes);
  });
  const refS = (performance.now() - refStarted) / 1000;
  const refPerPerson = ((await usedMemory(redis)) - refEmpty) / REFERENCE_PEOPLE;

  const encodings = Object.entries(buckets.encodings)
    .map(([e, n]) => `${int(n)} ${e}`)
    .join(", ");
  const out = [
    "# The already-checked-in state in Redis",
    "",
    machineLine(started),
    `Command: \`${benchCommand("bench:attendance-state")}\``,
    `Redis ${version} (a private redis-server of this run, no persistence); hash-max-listpack-entries ${config["hash-max-listpack-entries"] ?? "?"}, hash-max-listpack-value ${config["hash-max-listpack-value"] ?? "?"}`,
    "",
    `${int(SCHOOLS)} schools × ${int(PEOPLE)} people checked in today = ${int(total)}, in ${ZONES.length} time zones; ${2 ** BUCKET_BITS} buckets per school and day (ATTENDANCE_STATE_BUCKET_BITS ${BUCKET_BITS}).`,
    "",
    "| what | the state (`ingest-api/attendance/attendance-state.ts`) | reference: one key per person |",
    "| --- | ---: | ---: |",
    `| people | ${int(total)} | ${int(REFERENCE_PEOPLE)} |`,
    `| bytes a person, used_memory after against the same server empty | ${fixed(perPerson)} | ${fixed(refPerPerson)} |`,
    `| bytes a person, Σ MEMORY USAGE of the keys | ${fixed(buckets.sum / total)} | |`,
    `| keys | ${int(buckets.keys)} | ${int(REFERENCE_PEOPLE)} |`,
    `| writes a second (${BATCH} a call, ${IN_FLIGHT} calls at once; reference: SETs pipelined as many) | ${int(total / writeS)} | ${int(REFERENCE_PEOPLE / refS)} |`,
    "",
    `Buckets: ${encodings}; people a bucket min ${buckets.min}, avg ${fixed(buckets.avg)}, max ${buckets.max}. The reference takes ${fixed(refPerPerson / perPerson)}× the state's bytes a person.`,
    "",
    verdictLines([
      valueVerdict(
        `bytes a person checked in at ${int(total)} people (used_memory against empty)`,
        perPerson,
        "≤",
        TARGET_BYTES,
        (n) => `${fixed(n)} bytes`,
      ),
    ]).join("\n"),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
} finally {
  await redis.close().catch(() => {});
  await server.destroy();
}
