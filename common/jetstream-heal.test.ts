import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { JetStreamHealer } from "./jetstream-heal.ts";

// The healer's contract, without a server: one run for many concurrent callers, at most one
// run per interval, one WARN when the loss is seen and one INFO when it is healed.

/** A logger whose lines are in `lines` as soon as the log call returns (pino writes each
 * line to its destination within the call). */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = { write: (line: string) => void lines.push(JSON.parse(line)) };
  return { logger: pino({ level: "debug" }, sink), lines };
}

const WARN = 40;
const INFO = 30;

describe("JetStreamHealer", () => {
  test("concurrent callers share one run; the rate limit skips the next ones", async () => {
    const { logger, lines } = capturingLogger();
    let runs = 0;
    const healer = new JetStreamHealer(
      "the stream",
      async () => {
        runs++;
        await sleep(50);
        return ["stream S"];
      },
      60_000,
      logger,
    );
    const results = await Promise.all(Array.from({ length: 20 }, () => healer.heal()));
    assert.deepEqual(new Set(results), new Set([true]), "every caller saw the shared run succeed");
    assert.equal(runs, 1);
    assert.equal(await healer.heal(), false, "within the interval a new run is skipped");
    assert.equal(runs, 1);
    assert.deepEqual(
      lines.filter((l) => l.level >= INFO).map((l) => [l.level, l.msg]),
      [
        [WARN, "the stream missing in JetStream; re-provisioning"],
        [INFO, "the stream re-provisioned in JetStream"],
      ],
    );
  });

  test("failed runs stay quiet and never reject; the first success logs the one INFO", async () => {
    const { logger, lines } = capturingLogger();
    let failures = 2;
    const healer = new JetStreamHealer(
      "the consumer",
      async () => {
        if (failures-- > 0) throw new Error("NATS still unreachable");
        return ["consumer C"];
      },
      100,
      logger,
    );
    assert.equal(await healer.heal(new Error("consumer not found")), false);
    await sleep(120);
    assert.equal(await healer.heal(new Error("consumer not found")), false);
    await sleep(120);
    assert.equal(await healer.heal(new Error("consumer not found")), true);
    assert.equal(healer.runs, 3);
    const loud = lines.filter((l) => l.level >= INFO).map((l) => l.level);
    assert.deepEqual(loud, [WARN, INFO], "one WARN for the whole loss, one INFO when healed");
  });

  test("a check that finds everything in place logs nothing; one that re-creates logs both", async () => {
    const { logger, lines } = capturingLogger();
    let created: string[] = [];
    const healer = new JetStreamHealer("the stream", async () => created, 1, logger);
    assert.equal(await healer.check(), true);
    await sleep(5);
    created = ["stream S"];
    assert.equal(await healer.check(), true);
    assert.deepEqual(
      lines.filter((l) => l.level >= INFO).map((l) => l.level),
      [WARN, INFO],
    );
  });
});
