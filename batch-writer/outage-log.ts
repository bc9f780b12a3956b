import type { Logger } from "../common/logger.ts";

/**
 * Logs a run of transient store failures as one WARN when it starts and one INFO when a
 * batch commits again (with how long it lasted and how many attempts failed): an outage
 * of Postgres does not flood the log with one line per retry.
 */
export class OutageLog {
  readonly #logger: Logger;
  #since: number | undefined;
  #attempts = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  failing(err: unknown): void {
    this.#attempts++;
    if (this.#since !== undefined) return;
    this.#since = Date.now();
    this.#logger.warn({ err }, "storing a batch failed; holding it and retrying with back-off");
  }

  recovered(): void {
    if (this.#since === undefined) return;
    this.#logger.info(
      { failedAttempts: this.#attempts, outageMs: Date.now() - this.#since },
      "storing batches recovered",
    );
    this.#since = undefined;
    this.#attempts = 0;
  }
}
