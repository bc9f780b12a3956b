import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CliError,
  type CliIo,
  choiceFlag,
  durationFlag,
  intFlag,
  listFlag,
  numberFlag,
  parseCli,
  percentFlag,
  readCli,
} from "./cli.ts";

// The shared command-line reader of scripts/*.ts, in-process: parse errors and bad values
// are CliErrors, and readCli maps them (and --help) to output and exit codes through an
// io whose exit throws, so that nothing here exits the test runner.

class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

function fakeIo(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    out: (text: string) => {
      io.stdout += text;
    },
    err: (text: string) => {
      io.stderr += text;
    },
    exit: (code: number): never => {
      throw new Exit(code);
    },
  };
  return io;
}

const spec = {
  usage: "usage: demo [--kiosks N] [--fast]",
  options: {
    kiosks: { type: "string", default: "5" },
    fast: { type: "boolean", default: false },
  },
} as const;

function exitOf(run: () => unknown): number {
  try {
    run();
  } catch (err) {
    if (err instanceof Exit) return err.code;
    throw err;
  }
  assert.fail("expected an exit");
}

describe("parseCli", () => {
  test("parses the declared flags with their defaults", () => {
    const { values } = parseCli(spec, ["--fast"]);
    assert.equal(values.kiosks, "5");
    assert.equal(values.fast, true);
    assert.equal(values.help, false);
    assert.equal(parseCli(spec, ["-h"]).values.help, true);
  });

  test("an unknown flag, a missing value or an unexpected argument is a CliError", () => {
    for (const argv of [["--nope"], ["--kiosks"], ["extra"]])
      assert.throws(
        () => parseCli(spec, argv),
        (err: unknown) => err instanceof CliError && err.code === "invalid_usage",
        argv.join(" "),
      );
    assert.throws(() => parseCli(spec, ["--nope"]), /--nope/);
  });

  test("positionals only where the spec allows them", () => {
    const { positionals } = parseCli({ ...spec, allowPositionals: true }, ["a", "--fast", "b"]);
    assert.deepEqual(positionals, ["a", "b"]);
  });
});

describe("readCli", () => {
  test("--help prints the usage on stdout and exits 0 without reading", () => {
    const io = fakeIo();
    let read = false;
    const code = exitOf(() =>
      readCli(
        spec,
        () => {
          read = true;
        },
        ["--help"],
        io,
      ),
    );
    assert.equal(code, 0);
    assert.equal(io.stdout, `${spec.usage}\n`);
    assert.equal(io.stderr, "");
    assert.equal(read, false);
  });

  test("a parse error: the message, then the usage on stderr, exit 2", () => {
    const io = fakeIo();
    assert.equal(
      exitOf(() => readCli(spec, () => 1, ["--kiosk", "3"], io)),
      2,
    );
    const [first, ...rest] = io.stderr.split("\n");
    assert.match(first!, /--kiosk/);
    assert.ok(rest.join("\n").includes(spec.usage));
    assert.equal(io.stdout, "");
  });

  test("a validator's CliError exits 2 naming the flag; other errors propagate", () => {
    const io = fakeIo();
    const read = ({ values }: { values: { kiosks: string } }) =>
      intFlag("kiosks", values.kiosks, { min: 1 });
    assert.equal(readCli(spec, read, ["--kiosks", "7"], io), 7);
    assert.equal(
      exitOf(() => readCli(spec, read, ["--kiosks", "0"], io)),
      2,
    );
    assert.match(io.stderr, /^--kiosks must be an integer ≥ 1, got "0"\n/);
    assert.throws(
      () =>
        readCli(
          spec,
          () => {
            throw new RangeError("a bug, not a usage error");
          },
          [],
          io,
        ),
      RangeError,
    );
  });
});

describe("validators", () => {
  const rejects = (run: () => unknown, message: RegExp) =>
    assert.throws(run, (err: unknown) => err instanceof CliError && message.test(err.message));

  test("intFlag", () => {
    assert.equal(intFlag("n", "42"), 42);
    assert.equal(intFlag("n", "0", { min: 0, max: 3 }), 0);
    rejects(() => intFlag("n", "1.5"), /^--n must be an integer, got "1.5"$/);
    rejects(() => intFlag("n", ""), /^--n must be an integer/);
    rejects(() => intFlag("n", "abc", { min: 1 }), /--n must be an integer ≥ 1/);
    rejects(() => intFlag("n", "4", { min: 0, max: 3 }), /--n must be an integer from 0 to 3/);
    rejects(() => intFlag("n", "-1", { max: 3, min: 0 }), /from 0 to 3, got "-1"/);
  });

  test("numberFlag", () => {
    assert.equal(numberFlag("rate", "2.5", { above: 0 }), 2.5);
    rejects(() => numberFlag("rate", "0", { above: 0 }), /^--rate must be a number > 0, got "0"$/);
    rejects(() => numberFlag("rate", "Infinity"), /--rate must be a number/);
    rejects(() => numberFlag("rate", "11", { max: 10 }), /--rate must be a number ≤ 10/);
  });

  test("durationFlag", () => {
    assert.equal(durationFlag("d", "60s"), 60_000);
    assert.equal(durationFlag("d", "2m"), 120_000);
    assert.equal(durationFlag("d", "1h"), 3_600_000);
    assert.equal(durationFlag("d", "500ms"), 500);
    assert.equal(durationFlag("d", "1.5"), 1_500);
    assert.equal(durationFlag("d", "0"), 0);
    rejects(() => durationFlag("d", "soon"), /^--d: not a duration: "soon"/);
    rejects(() => durationFlag("d", "-1s"), /--d: not a duration/);
  });

  test("percentFlag", () => {
    assert.equal(percentFlag("p", "5%"), 0.05);
    assert.equal(percentFlag("p", "2"), 0.02);
    assert.equal(percentFlag("p", "100%"), 1);
    rejects(() => percentFlag("p", "101%"), /^--p: a percentage must be at most 100%/);
    rejects(() => percentFlag("p", "half"), /^--p: not a percentage/);
  });

  test("choiceFlag", () => {
    assert.equal(choiceFlag("format", "csv", ["table", "csv"]), "csv");
    rejects(
      () => choiceFlag("format", "xlsx", ["table", "csv"]),
      /^--format must be table or csv, got "xlsx"$/,
    );
    rejects(() => choiceFlag("x", "d", ["a", "b", "c"]), /must be a, b or c/);
  });

  test("listFlag reads each item with the flag's name", () => {
    const ints = (text: string) => listFlag("steps", text, (n, t) => intFlag(n, t, { min: 1 }));
    assert.deepEqual(ints("1000, 1500,2000"), [1000, 1500, 2000]);
    rejects(() => ints("1000,,2000"), /^--steps wants a comma-separated list/);
    rejects(() => ints("1000,x"), /^--steps must be an integer ≥ 1, got "x"$/);
  });
});
