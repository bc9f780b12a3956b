import type { Logger } from "../common/logger.ts";
import type { BatchItem } from "./batch-item.ts";
import type { WriterConfig } from "./config.ts";
import { describeFailure, type FailureKind } from "./pg-errors.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

export interface IsolationDeps {
  config: WriterConfig;
  logger: Logger;
  metrics: WriterMetrics;
}

/**
 * Finding the messages that fail a batch, so that one bad message cannot wedge every other:
 * on poison at once, on a permanent failure after `permanentFailureAttempts` (at once when
 * `isolating`: the attempts were spent on the batch this one is a half of), the batch is
 * stored again in halves; a message that fails alone becomes its own dead letter. One
 * instance follows the attempts at one batch.
 */
export class PoisonIsolation {
  readonly #deps: IsolationDeps;
  readonly #isolating: boolean;
  #permanentFailures = 0;
  #deadLettered = false;
  #heldLogged = false;

  constructor(deps: IsolationDeps, isolating: boolean) {
    this.#deps = deps;
    this.#isolating = isolating;
  }

  /** Counts a failed attempt at `items`; true when they are to be isolated now. */
  isolateAfter(kind: FailureKind, err: unknown, items: BatchItem[]): boolean {
    const { config, logger, metrics } = this.#deps;
    if (kind === "permanent") {
      this.#permanentFailures++;
      metrics.permanentFailures.inc();
      if (this.#permanentFailures === 1 && !this.#isolating)
        logger.warn(
          { err, messages: items.length, attempts: config.permanentFailureAttempts },
          "storing a batch failed with an error that is not transient; retrying, then isolating the messages that fail",
        );
    }
    // Not even its dead letter can be written (dead_letters itself fails): nothing
    // left to split, and acking would lose it. Keep it and retry with back-off.
    if (this.#deadLettered && kind !== "transient" && !this.#heldLogged) {
      this.#heldLogged = true;
      logger.error(
        { err, streamSeq: items[0]!.msg.seq },
        "writing a dead letter failed; holding the message and retrying",
      );
    }
    return (
      !this.#deadLettered &&
      (kind === "poison" ||
        (kind === "permanent" &&
          (this.#isolating || this.#permanentFailures >= config.permanentFailureAttempts)))
    );
  }

  /** Whether the halves of the batch isolate at once: its permanent-failure attempts are spent. */
  halvesIsolating(kind: FailureKind): boolean {
    return kind === "permanent" || this.#isolating;
  }

  /** Replaces a message that fails alone by its dead letter, with the error. */
  deadLetter(item: BatchItem, err: unknown, kind: FailureKind): void {
    this.#deps.logger.warn(
      { err, streamSeq: item.msg.seq, subject: item.msg.subject },
      kind === "poison"
        ? "Postgres refused a message; dead-lettering it"
        : "a message kept failing with an error that is not transient; dead-lettering it",
    );
    this.#deadLettered = true;
    item.votes = [];
    item.completions = [];
    item.poison = [
      {
        itemIndex: -1,
        raw: item.msg.data,
        error: describeFailure(err),
        reason: kind === "poison" ? "invalid" : "store_failed",
      },
    ];
  }
}

/** The two halves a failing batch is stored again as (the first one the larger). */
export function halves(items: BatchItem[]): [BatchItem[], BatchItem[]] {
  const half = Math.ceil(items.length / 2);
  return [items.slice(0, half), items.slice(half)];
}
