import { cpus, loadavg, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { benchLog } from "./progress.ts";

// The machine a benchmark ran on, and waiting for it to be quiet: on a shared machine
// someone else's tests distort every number.

/** "Machine: 2 × <model>, 8 GB; Node v24…; 2026-12-01 22:10 UTC; load average at start 0.42" */
export function machineLine(started: Date): string {
  const cpu = cpus();
  return `Machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GB; Node ${process.version}; ${started.toISOString().slice(0, 16).replace("T", " ")} UTC; load average at start ${loadavg()[0]!.toFixed(2)}`;
}

/** Waits, at most `minutes`, until the 1-minute load average is 1.5 or less. */
export async function waitQuiet(minutes: number): Promise<void> {
  const deadline = Date.now() + minutes * 60_000;
  while (loadavg()[0]! > 1.5 && Date.now() < deadline) {
    benchLog(`load average ${loadavg()[0]!.toFixed(2)} > 1.5: waiting for a quiet machine...`);
    await sleep(30_000);
  }
}
