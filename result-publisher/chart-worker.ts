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

export interface ChartWorkerOptions {
  width: number;
  height: number;
  /**
   * A render not answered within this ends its thread and fails (CHART_RENDER_TIMEOUT_MS).
   * Without it a thread that never answers (a draw stuck in a loop, a native call that
   * never returns) held its renderer's loop for ever: no chart of any poll drawn again by
   * it, and close() waiting on it too.
   */
  renderTimeoutMs: number;
  /** The thread's script: chart-thread.ts, or a test's stand-in that hangs. */
  threadUrl?: URL;
}

/**
 * One worker thread drawing charts, one at a time (the caller awaits each render). A
 * thread that dies, or does not answer within renderTimeoutMs (ended then), fails the
 * render in flight and is started again for the next one.
 */
export class ChartWorker {
  #worker: Worker | undefined;
  #nextId = 0;
  #pending:
    | {
        id: number;
        resolve: (png: Buffer) => void;
        reject: (err: Error) => void;
        timer: NodeJS.Timeout;
      }
    | undefined;
  readonly #options: ChartWorkerOptions;

  constructor(options: ChartWorkerOptions) {
    this.#options = options;
  }

  render(results: PublishedResults): Promise<Buffer> {
    if (this.#pending) return Promise.reject(new ChartRenderError("a render is in flight"));
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    const { width, height, renderTimeoutMs } = this.#options;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.#abandon(worker, id), renderTimeoutMs);
      this.#pending = { id, resolve, reject, timer };
      const req: RenderRequest = { id, results, width, height };
      worker.postMessage(req);
    });
  }

  /** The render `id` took too long: its thread is ended (a busy loop too) and replaced. */
  #abandon(worker: Worker, id: number): void {
    const pending = this.#settle(id);
    if (pending === undefined) return;
    if (this.#worker === worker) this.#worker = undefined;
    worker.terminate().catch(() => {});
    pending.reject(
      new ChartRenderError(
        `the chart did not render within ${this.#options.renderTimeoutMs} ms; its thread was ended`,
      ),
    );
  }

  /** Takes the render in flight if it is `id` (any when undefined), its timer cleared. */
  #settle(id?: number) {
    const pending = this.#pending;
    if (pending === undefined || (id !== undefined && pending.id !== id)) return undefined;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    return pending;
  }

  #start(): Worker {
    const worker = new Worker(
      this.#options.threadUrl ?? new URL("./chart-thread.ts", import.meta.url),
    );
    worker.on("message", (reply: RenderReply) => {
      const pending = this.#settle(reply.id);
      if (pending === undefined) return;
      if (reply.ok)
        pending.resolve(Buffer.from(reply.png.buffer, reply.png.byteOffset, reply.png.length));
      else pending.reject(new ChartRenderError(`chart render failed: ${reply.message}`));
    });
    const died = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#settle()?.reject(new ChartRenderError("the chart thread died", { cause: err }));
    };
    worker.on("error", died);
    worker.on("exit", (code) => died(new Error(`exit code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#settle()?.reject(new ChartRenderError("the chart worker is closing"));
    await worker?.terminate();
  }
}
