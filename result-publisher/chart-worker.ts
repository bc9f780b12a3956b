import { Worker } from "node:worker_threads";
import { TallyflowError } from "../common/errors.ts";
import type { PublishedResults } from "../common/results-contract.ts";
import type { RenderReply, RenderRequest } from "./chart-thread.ts";

/** A chart could not be drawn (the thread threw, or died). Not an HTTP error. */
export class ChartRenderError extends TallyflowError {
  override readonly name = "ChartRenderError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("chart_render_failed", message, options);
  }
}

/**
 * One worker thread drawing charts, one at a time (the caller awaits each render). A
 * thread that dies fails the render in flight and is started again for the next one.
 */
export class ChartWorker {
  #worker: Worker | undefined;
  #nextId = 0;
  #pending:
    | { id: number; resolve: (png: Buffer) => void; reject: (err: Error) => void }
    | undefined;
  readonly #size: { width: number; height: number };

  constructor(size: { width: number; height: number }) {
    this.#size = size;
  }

  render(results: PublishedResults): Promise<Buffer> {
    if (this.#pending) return Promise.reject(new ChartRenderError("a render is in flight"));
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    return new Promise<Buffer>((resolve, reject) => {
      this.#pending = { id, resolve, reject };
      const req: RenderRequest = { id, results, ...this.#size };
      worker.postMessage(req);
    });
  }

  #start(): Worker {
    const worker = new Worker(new URL("./chart-thread.ts", import.meta.url));
    worker.on("message", (reply: RenderReply) => {
      const pending = this.#pending;
      if (pending?.id !== reply.id) return;
      this.#pending = undefined;
      if (reply.ok)
        pending.resolve(Buffer.from(reply.png.buffer, reply.png.byteOffset, reply.png.length));
      else pending.reject(new ChartRenderError(`chart render failed: ${reply.message}`));
    });
    const died = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.reject(new ChartRenderError("the chart thread died", { cause: err }));
    };
    worker.on("error", died);
    worker.on("exit", (code) => died(new Error(`exit code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#pending?.reject(new ChartRenderError("the chart worker is closing"));
    this.#pending = undefined;
    await worker?.terminate();
  }
}
