import { fork } from "node:child_process";
import { connect, type Socket } from "node:net";

// Thousands of raw SSE clients held by a process of their own (bench:reads): in the
// process that also generates the votes, 10,000 sockets' reads would delay the votes'
// answers and count as API latency. Driven over the IPC channel by StreamHolder.

type Command =
  | { op: "open"; port: number; pollId: string; count: number }
  | { op: "events" }
  | { op: "close" };
type Reply = { ok: true; opened?: number; events?: number } | { ok: false; error: string };

/** The parent's handle on the holder process. */
export class StreamHolder {
  readonly #child = fork(import.meta.filename, [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });

  #ask(command: Command): Promise<Reply & { ok: true }> {
    return new Promise((resolve, reject) => {
      this.#child.once("message", (reply: Reply) =>
        reply.ok ? resolve(reply) : reject(new Error(reply.error)),
      );
      this.#child.send(command);
    });
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Opens `count` streams on the poll; resolves once each has had its first event. */
  async open(port: number, pollId: string, count: number): Promise<number> {
    return (await this.#ask({ op: "open", port, pollId, count })).opened ?? 0;
  }

  /** `event: results` frames received since the last call. */
  async takeEvents(): Promise<number> {
    return (await this.#ask({ op: "events" })).events ?? 0;
  }

  async close(): Promise<void> {
    if (!this.#child.connected) return;
    await this.#ask({ op: "close" }).catch(() => undefined);
    this.#child.disconnect();
  }
}

// --- the holder process -----------------------------------------------------------------

const sockets: Socket[] = [];
let events = 0;

function openStream(port: number, pollId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    let first = true;
    socket.setNoDelay(true);
    socket.once("error", reject);
    socket.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      if (first) {
        if (!text.startsWith("HTTP/1.1 200")) reject(new Error(text.split("\r\n", 1)[0]));
        first = false;
      }
      for (
        let at = text.indexOf("event: results");
        at !== -1;
        at = text.indexOf("event: results", at + 1)
      ) {
        events++;
        resolve();
      }
    });
    socket.write(`GET /v1/polls/${pollId}/events HTTP/1.1\r\nHost: bench\r\n\r\n`);
  });
}

async function handle(command: Command): Promise<Reply> {
  switch (command.op) {
    case "open":
      // 250 at a time: the API's accept queue and the admission caps see a crowd arriving,
      // not one SYN flood.
      for (let i = 0; i < command.count; i += 250) {
        const batch = Math.min(250, command.count - i);
        await Promise.all(
          Array.from({ length: batch }, () => openStream(command.port, command.pollId)),
        );
      }
      events = 0;
      return { ok: true, opened: sockets.length };
    case "events": {
      const taken = events;
      events = 0;
      return { ok: true, events: taken };
    }
    case "close":
      for (const socket of sockets) socket.destroy();
      sockets.length = 0;
      return { ok: true };
  }
}

if (import.meta.main && process.send) {
  process.on("message", (command: Command) => {
    handle(command).then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ ok: false, error: String(err) }),
    );
  });
  process.on("disconnect", () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
}
