import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

// CPU accounting for the benchmarks, from /proc. The server under test runs in its own
// process (harness/child-processes.ts) so that it never shares an event loop with the load
// generator; /proc tells how the two cores were split between server, NATS, Redis and the
// generator.

// Clock ticks per second for /proc times; 100 on every Linux we run on, but ask anyway.
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

/** The pids in /proc now (a process may end before its files are read). */
function procPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

/** The pids for which `test` holds; a process that ends while being looked at is skipped. */
function pidsWhere(test: (pid: number) => boolean): number[] {
  return procPids().filter((pid) => {
    try {
      return test(pid);
    } catch {
      return false;
    }
  });
}

/** A process's command line, arguments joined by spaces ("" once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Pids whose command line runs `binary` and mentions `needle` (e.g. the port it serves). */
export function findPids(binary: string, needle: string): number[] {
  return pidsWhere((pid) => {
    // Some servers rewrite their title into argv[0] ("redis-server 127.0.0.1:6379").
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const program = argv[0]?.split(" ")[0]?.split("/").pop();
    return program === binary && argv.join(" ").includes(needle);
  });
}

/** Pids whose command name (/proc/<pid>/comm) is `comm`. */
export function pidsByComm(comm: string): number[] {
  return pidsWhere((pid) => readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm);
}

/** Peak resident memory (VmHWM) of a process in MB; NaN once it is gone. */
export function peakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

export interface CpuWatch {
  /** CPU use over the interval, in % of one core (200 % = both cores of a 2-core box). */
  stop(): { byName: Record<string, number>; machineBusyPct: number; wallSeconds: number };
}

/**
 * Starts measuring the CPU time of the named processes (pid, or "self" for this process,
 * which is the load generator). Cumulative counters are read at start and stop only, so
 * watching costs nothing during the run.
 */
export function watchCpu(pids: Record<string, number | "self">): CpuWatch {
  const read = (pid: number | "self") => {
    if (pid === "self") {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    }
    return processCpuSeconds(pid);
  };
  const startedAt = performance.now();
  const machineStart = machineCpuSeconds();
  const start = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, read(p)]));
  return {
    stop() {
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const machineEnd = machineCpuSeconds();
      const byName: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) {
        const before = start[name];
        const after = read(pid);
        if (before !== undefined && after !== undefined)
          byName[name] = ((after - before) / wallSeconds) * 100;
      }
      const machineBusyPct =
        ((machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total)) *
        100 *
        (procStatCores() || 1);
      return { byName, machineBusyPct, wallSeconds };
    },
  };
}

function procStatCores(): number {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l)).length;
}
