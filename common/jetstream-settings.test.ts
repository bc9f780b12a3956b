import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { diffSettings, warnDrift } from "./jetstream-settings.ts";

// The drift comparison, without a server: what JetStream leaves out equals a zero setting,
// lists compare by value, and each drifting setting gets one WARN naming it.

test("an absent value equals a zero one (the server omits zeros); lists compare by value", () => {
  const configured = {
    max_bytes: { variable: "STREAM_MAX_BYTES", value: 0 },
    description: { value: "" },
    backoff: { variable: "REDELIVERY_BACKOFF_MS", value: [1000, 2000] },
  };
  assert.deepEqual(
    diffSettings("stream S", configured, { backoff: [1000, 2000] }),
    [],
    "nothing drifts",
  );
  assert.deepEqual(diffSettings("stream S", configured, { max_bytes: 5, backoff: [1000] }), [
    {
      resource: "stream S",
      setting: "max_bytes",
      variable: "STREAM_MAX_BYTES",
      configured: 0,
      actual: 5,
    },
    {
      resource: "stream S",
      setting: "backoff",
      variable: "REDELIVERY_BACKOFF_MS",
      configured: [1000, 2000],
      actual: [1000],
    },
  ]);
});

test("one WARN per drifting setting, naming the setting, its variable and both values", async () => {
  const lines: { level: number; msg: string; setting: string }[] = [];
  // pino writes each line to its destination within the log call: no wait before reading.
  const sink = { write: (line: string) => void lines.push(JSON.parse(line)) };
  warnDrift(
    pino({ level: "info" }, sink),
    diffSettings(
      "stream VOTES",
      {
        duplicate_window: { variable: "DUPLICATE_WINDOW_MS", value: 600_000 },
        num_replicas: { variable: "STREAM_REPLICAS", value: 3 },
      },
      { duplicate_window: 120_000, num_replicas: 1 },
    ),
  );
  assert.deepEqual(
    lines.map((l) => [l.level, l.setting, l.msg]),
    [
      [
        40,
        "duplicate_window",
        "stream VOTES: duplicate_window (DUPLICATE_WINDOW_MS) is 120000 in JetStream but 600000 here; left unchanged (`npm run migrate` applies the settings)",
      ],
      [
        40,
        "num_replicas",
        "stream VOTES: num_replicas (STREAM_REPLICAS) is 1 in JetStream but 3 here; left unchanged (`npm run migrate` applies the settings)",
      ],
    ],
  );
});
