import type { Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { eventually } from "../harness/waiting.ts";

/**
 * A client on a bare TCP socket, for what fetch cannot do: send headers or a body a byte at
 * a time, declare a body and never send it, or send nothing at all. Records what the
 * server wrote and when it closed the connection.
 */
export class RawClient {
  readonly socket: Socket;
  #received = "";
  #closed = false;
  #trickle: NodeJS.Timeout | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.#received += chunk;
    });
    socket.on("error", () => {}); // a reset by the server is one of the outcomes under test
    socket.on("close", () => {
      this.#closed = true;
      clearInterval(this.#trickle);
    });
  }

  static async open(server: Server): Promise<RawClient> {
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  write(text: string): void {
    if (!this.#closed) this.socket.write(text);
  }

  /** Writes one character of `text` every `intervalMs`, cycling, until the socket closes. */
  trickle(text: string, intervalMs = 50): void {
    let i = 0;
    this.#trickle = setInterval(() => this.write(text[i++ % text.length]!), intervalMs);
  }

  get received(): string {
    return this.#received;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for the server to close the connection; generous, as the machine may be loaded. */
  async waitClosed(timeoutMs = 20_000): Promise<void> {
    await eventually("the server closes the connection", async () => this.#closed || undefined, {
      timeoutMs,
    });
  }

  /** The first response received: status, lower-cased headers and the body. */
  response(): { status: number; headers: Record<string, string>; body: string } {
    const end = this.#received.indexOf("\r\n\r\n");
    if (end < 0) throw new Error(`no complete response head in ${JSON.stringify(this.#received)}`);
    const [statusLine = "", ...lines] = this.#received.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    return {
      status: Number(statusLine.split(" ")[1]),
      headers,
      body: this.#received.slice(end + 4, end + 4 + length),
    };
  }

  destroy(): void {
    clearInterval(this.#trickle);
    this.socket.destroy();
  }
}
