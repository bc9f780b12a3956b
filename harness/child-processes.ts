import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "./ports.ts";
import { REPO_ROOT } from "./repo-root.ts";
import { eventually } from "./waiting.ts";

// Node child processes of a test or a benchmark (services, CLIs, reference servers), all
// tracked in one registry so that killChildren(), or the exit of this process itself, ends
// every one still running.

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeChild {
  /** Names the child in messages and prefixes its forwarded output. */
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The last 64 KB of the child's stdout and stderr, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or the signal) once the child has exited. */
  exited: Promise<ChildExit>;
}

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

// A process that dies (an uncaught failure, a timeout, Ctrl-C of a bench) must not leave
// children behind, servers still listening.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Environment for a child process: this process's (PATH, HOME) minus the test runner's. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.NODE_TEST_CONTEXT;
  delete base.NODE_OPTIONS;
  return { ...base, ...env };
}

function spawnTracked(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/**
 * `node args...` from the repository root with exactly `env`, tracked so that
 * killChildren() ends it. With `forward`, its output also goes to this process's stderr,
 * each line prefixed with `name`, so that a benchmark's stdout stays its report.
 */
export function startNode(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  forward = true,
): NodeChild {
  const child = spawnTracked(args, env);
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  let output = "";
  const keep = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output = (output + text).slice(-65_536);
    if (forward)
      for (const line of text.split("\n"))
        if (line.trim() !== "") process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return { name, process: child, pid: child.pid, output: () => output, exited };
}

/**
 * `node <script> args...` with this process's environment (minus the test runner's) and
 * `env` over it; its output is forwarded only when TEST_LOG_LEVEL is set.
 */
export function spawnNode(script: string, args: string[], env: Record<string, string>): NodeChild {
  return startNode(script, [script, ...args], childEnv(env), Boolean(process.env.TEST_LOG_LEVEL));
}

/** `node <script> args...` to completion (SIGKILL after `timeoutMs`): its exit code and output. */
export async function runNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ScriptRun> {
  const child = spawnTracked([script, ...args], childEnv(env));
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) =>
      child.once("close", (c) => resolve(c)),
    );
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function running(child: NodeChild): boolean {
  return child.process.exitCode === null && child.process.signalCode === null;
}

/** Polls `url` until it answers 200; fails early if the child exits. */
export async function waitUntilReady(
  child: NodeChild,
  url: string,
  timeoutMs = 30_000,
): Promise<void> {
  const state = await eventually(
    `${child.name} ready at ${url}`,
    async () => {
      if (!running(child)) return "exited";
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.ok && "ready";
    },
    { timeoutMs, intervalMs: 100 },
  );
  if (state === "exited")
    throw new Error(`${child.name} exited with code ${child.process.exitCode}`);
}

export interface ServerChild {
  child: NodeChild;
  /** http://127.0.0.1:<port> */
  url: string;
}

/**
 * `node args...` (startNode) serving HTTP on a free port, which `env(port)` tells it, once
 * its /readyz answers 200; killed if it never does.
 */
export async function startServer(
  name: string,
  args: string[],
  env: (port: number) => NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<ServerChild> {
  const port = await freePort();
  const child = startNode(name, args, env(port));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, `${url}/readyz`, timeoutMs);
  } catch (err) {
    await killChild(child);
    throw err;
  }
  return { child, url };
}

/** SIGKILL, and wait until the process is gone. */
export async function killChild(child: NodeChild): Promise<void> {
  if (running(child)) child.process.kill("SIGKILL");
  await child.exited;
}

/**
 * SIGTERM (graceful shutdown: a --cpu-prof child writes its profile) and the exit it led
 * to; SIGKILL if it takes over `timeoutMs`.
 */
export async function stopChild(child: NodeChild, timeoutMs = 20_000): Promise<ChildExit> {
  if (running(child)) child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), timeoutMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills every child process still running (for `after` hooks: runs even when a test failed). */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}
