import type { ChildProcess } from "node:child_process";
import { connect, createServer } from "node:net";
import { eventually } from "./waiting.ts";

/**
 * A port nothing listens on now. The port is released before it is returned, so another
 * call (or another process) may get the same one: freePorts() for several at once.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** `count` free ports, no two the same. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Whether something accepts TCP connections on 127.0.0.1:<port>. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Waits until a server we spawned accepts TCP connections; fails early if it exited. */
export async function waitForPort(
  port: number,
  name: string,
  child: ChildProcess,
  timeoutMs = 30_000,
): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const state = await eventually(
    `${name} listens on port ${port}`,
    async () => (exited() ? "exited" : (await canConnect(port)) && "listening"),
    { timeoutMs },
  );
  if (state === "exited")
    throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening`);
}
