import type { Logger } from "./logger.ts";

// Resources register their closer when they are created; shutdown closes them
// last-in-first-out (intake first, the pool last) within one deadline.

type Closer = { name: string; close: () => Promise<void> | void };

export class Lifecycle {
  readonly #closers: Closer[] = [];
  #closing: Promise<void> | undefined;
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Registers a closer; returns the resource for chaining. */
  add<T>(name: string, resource: T, close: (resource: T) => Promise<void> | void): T {
    this.#closers.push({ name, close: () => close(resource) });
    return resource;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Closes everything in reverse order. Safe to call twice: the second call waits for the first. */
  close(deadlineMs = 10_000): Promise<void> {
    this.#closing ??= this.#closeAll(deadlineMs);
    return this.#closing;
  }

  async #closeAll(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.#closers.length > 0) {
      const closer = this.#closers.pop()!;
      const remainingMs = Math.max(deadline - Date.now(), 100);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(closer.close),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`closing ${closer.name} took over ${remainingMs} ms`)),
              remainingMs,
            );
          }),
        ]);
      } catch (err) {
        this.#logger.warn({ err, resource: closer.name }, "close failed");
      } finally {
        clearTimeout(timer);
      }
    }
  }
}

/**
 * First SIGINT/SIGTERM: graceful close with a deadline, then exit 0. A second signal
 * exits at once (JetStream redelivers whatever was not acked).
 */
export function exitOnSignals(lifecycle: Lifecycle, logger: Logger, deadlineMs: number): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal, deadlineMs }, "shutting down");
    lifecycle.close(deadlineMs).then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
