import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../harness/ports.ts";
import { eventually } from "../harness/waiting.ts";

// A private Prometheus and the engines' exporters (Debian's packages, as .ci/run installs
// them), each a child process on a free 127.0.0.1 port, for the test that scrapes the
// running services and runs every dashboard query against what it stored.

export interface Exporter {
  /** host:port to scrape. */
  target: string;
  close(): Promise<void>;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return gone;
}

/** `binary` with `args(port)`, once its /metrics answers. Its output is kept for a failure's message. */
export async function startExporter(
  binary: string,
  args: (port: number) => string[],
  env: Record<string, string> = {},
): Promise<Exporter> {
  const port = await freePort();
  const child = spawn(binary, args(port), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-4_000);
  });
  const target = `127.0.0.1:${port}`;
  try {
    await eventually(
      `${binary} serves /metrics`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${binary} exited: ${output}`);
        const res = await fetch(`http://${target}/metrics`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      { timeoutMs: 15_000 },
    );
  } catch (err) {
    await stopProcess(child);
    throw err;
  }
  return { target, close: () => stopProcess(child) };
}

export interface ScrapeJob {
  job: string;
  targets: string[];
}

export interface PrometheusServer {
  url: string;
  /** An instant query; the result vector (or scalar as one element), throwing on an error answer. */
  query(expr: string): Promise<unknown[]>;
  /** GET /api/v1/<path>'s data. */
  api<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

/**
 * `prometheus` on a free port with its storage in a temporary folder, scraping `jobs`
 * every `intervalS` seconds and evaluating `ruleFiles` as often.
 */
export async function startPrometheus(
  jobs: ScrapeJob[],
  ruleFiles: string[],
  intervalS = 1,
): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "tf-prometheus-"));
  const config = join(dir, "prometheus.yml");
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    config,
    JSON.stringify({
      global: {
        scrape_interval: `${intervalS}s`,
        scrape_timeout: `${intervalS}s`,
        evaluation_interval: `${intervalS}s`,
      },
      rule_files: ruleFiles,
      scrape_configs: jobs.map((j) => ({
        job_name: j.job,
        static_configs: [{ targets: j.targets }],
      })),
    }),
  );
  const port = await freePort();
  const child = spawn(
    "prometheus",
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let output = "";
  child.stderr?.on("data", (d: Buffer) => {
    output = (output + d.toString()).slice(-8_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  try {
    await eventually(
      "prometheus is ready",
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited: ${output}`);
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: unknown }>(
        `query?query=${encodeURIComponent(expr)}`,
      );
      return data.resultType === "vector" || data.resultType === "matrix"
        ? (data.result as unknown[])
        : [data.result];
    },
    close,
  };
}
