import { type ChildProcess, spawn } from "node:child_process";
import { ROOT } from "./repo-root.ts";

// Node child processes of a test (services, CLIs), all tracked in one registry so that an
// `after` hook, or the exit of the test process itself, ends every one still running.

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeChild {
  process: ChildProcess;
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

// A test process that dies (an uncaught failure, a timeout) must not leave children behind.
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

function spawnTracked(script: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** `node <script> args...` from the repository root, tracked so that killChildren() ends it. */
export function spawnNode(script: string, args: string[], env: Record<string, string>): NodeChild {
  const child = spawnTracked(script, args, env);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return { process: child, output: () => output, exited };
}

/** `node <script> args...` to completion (SIGKILL after `timeoutMs`): its exit code and output. */
export async function runNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ScriptRun> {
  const child = spawnTracked(script, args, env);
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

/** SIGKILL, and wait until the process is gone. */
export async function killChild(child: NodeChild): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill("SIGKILL");
  await child.exited;
}

/** SIGTERM (graceful shutdown) and the exit it led to; SIGKILL if it takes over `timeoutMs`. */
export async function stopChild(child: NodeChild, timeoutMs = 20_000): Promise<ChildExit> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill("SIGTERM");
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
