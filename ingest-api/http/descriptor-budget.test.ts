import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { pino } from "pino";
import { checkDescriptorBudget, openFilesLimit } from "./descriptor-budget.ts";

// The start-up warning when the connection caps do not fit `ulimit -n`.

const limits = (soft: string) =>
  "Limit                     Soft Limit           Hard Limit           Units     \n" +
  "Max processes             63459                63459                processes \n" +
  `Max open files            ${soft.padEnd(21)}${soft.padEnd(21)}files     \n`;

function warnings(config: { httpMaxConnections: number; sseMaxClients: number }, text: string) {
  const lines: { msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  checkDescriptorBudget(config, pino({ level: "warn" }, sink), text);
  return lines.map((l) => l.msg);
}

describe("descriptor budget", () => {
  test("reads the soft open-files limit", () => {
    assert.equal(openFilesLimit(limits("20000")), 20_000);
    assert.equal(openFilesLimit(limits("unlimited")), undefined);
    assert.equal(openFilesLimit("nothing here"), undefined);
  });

  test("the defaults fit 20,000 descriptors; 1,024 gets a warning naming the variable", () => {
    const defaults = { httpMaxConnections: 15_000, sseMaxClients: 10_000 };
    assert.deepEqual(warnings(defaults, limits("20000")), []);
    const [warning] = warnings(defaults, limits("1024"));
    assert.match(String(warning), /HTTP_MAX_CONNECTIONS should be at most 524 \(ulimit -n 1024/);
    assert.equal(warnings({ httpMaxConnections: 0, sseMaxClients: 10 }, limits("20000")).length, 1);
  });
});
