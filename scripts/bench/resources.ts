import { commandLine, peakRssMb, pidsByComm, processCpuSeconds, watchCpu } from "./proc-stats.ts";

// CPU and peak memory of the processes serving the whole-pipeline bench, Postgres
// included: its backends of the bench's database and the server's own processes.

export interface Resources {
  /** % of one core (the machine has cpus().length cores). */
  cpu: Record<string, number>;
  peakRssMb: Record<string, number>;
  machineBusyPct: number;
}

/**
 * CPU seconds of the Postgres processes serving the bench: the backends connected to its
 * database (one per connection) and the server's own processes (WAL writer, checkpointer…),
 * not the backends of other databases (other people's tests on a shared machine).
 */
function postgresCpuSeconds(database: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of pidsByComm("postgres")) {
    const cmdline = commandLine(pid);
    if (cmdline === "") continue;
    // Ours: backends and autovacuum workers of the bench database ("postgres: 15/main:
    // postgres tallyflow_bench_e2e 127.0.0.1(50104) idle"), and the server's shared
    // processes. Not: other databases' backends, parallel workers (of other queries).
    const shared = /(checkpointer|background writer|walwriter|launcher)\s*$/.test(cmdline.trim());
    const postmaster = !cmdline.startsWith("postgres:");
    if (!shared && !postmaster && !cmdline.includes(` ${database} `)) continue;
    const s = processCpuSeconds(pid);
    if (s !== undefined) m.set(pid, s);
  }
  return m;
}

/** The Postgres backends connected to `database`. */
function backendPids(database: string): number[] {
  return pidsByComm("postgres").filter((pid) => commandLine(pid).includes(` ${database} `));
}

/** Starts measuring `pids` (by name) and the Postgres serving `databaseUrl`'s database. */
export function measureResources(
  pids: Record<string, number>,
  databaseUrl: string,
): { stop(): Resources } {
  const database = new URL(databaseUrl).pathname.slice(1);
  const watch = watchCpu(pids);
  const pgStart = postgresCpuSeconds(database);
  const t0 = performance.now();
  return {
    stop() {
      const { byName, machineBusyPct } = watch.stop();
      const seconds = (performance.now() - t0) / 1000;
      let pgCpu = 0;
      for (const [pid, after] of postgresCpuSeconds(database))
        pgCpu += after - (pgStart.get(pid) ?? 0);
      const cpu: Record<string, number> = { ...byName, postgres: (pgCpu / seconds) * 100 };
      const peak: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) peak[name] = peakRssMb(pid);
      // Postgres serves the bench with many processes that share memory, so a sum would
      // count the shared buffers many times: the largest backend of the bench's database.
      const backends = backendPids(database)
        .map(peakRssMb)
        .filter((n) => !Number.isNaN(n));
      peak.postgres = backends.length > 0 ? Math.max(...backends) : Number.NaN;
      return { cpu, peakRssMb: peak, machineBusyPct };
    },
  };
}
