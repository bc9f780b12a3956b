import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamManager } from "@nats-io/jetstream";

/**
 * How far the writer has stored the stream: `published` is the sequence of the newest vote
 * in it, `unstored` the oldest not yet stored (undefined: none). The votes stream keeps a
 * vote only until the writer commits it (work-queue retention), so its first sequence says.
 */
export interface StreamProgress {
  published: number;
  unstored: number | undefined;
}

/** The votes stream's progress, from its state (one stream info call). */
export function votesStreamProgress(
  jsm: JetStreamManager,
  streamName: string,
): () => Promise<StreamProgress> {
  return async () => {
    const { state } = await jsm.streams.info(streamName);
    return {
      published: state.last_seq,
      unstored: state.messages === 0 ? undefined : state.first_seq,
    };
  };
}

/** How a wait for the writer ended (waitForWriter). */
export type WriterWait =
  | { outcome: "stored" }
  | { outcome: "timed_out"; publishedSeq: number }
  | { outcome: "unknown"; err: unknown };

export interface WriterWaitOptions {
  /** Longest wait; 0 = none (answers "stored" at once). */
  waitMs: number;
  /** How often the stream is looked at. */
  pollMs: number;
  /** Runs between two looks (renews a lock); throws to stop the wait with its error. */
  between: () => Promise<void>;
}

/**
 * Waits until the writer has stored every vote published before now: what a rebuild of
 * Redis state from the writer's tables waits for, since a vote accepted just before Redis
 * emptied may still be in the stream and in no table yet. Never throws but for `between`'s
 * error: a stream that cannot be read is "unknown", a writer too slow "timed_out", and the
 * caller goes on with one WARN (a writer that is down must not hold a rebuild for ever).
 */
export async function waitForWriter(
  progress: () => Promise<StreamProgress>,
  { waitMs, pollMs, between }: WriterWaitOptions,
): Promise<WriterWait> {
  if (waitMs === 0) return { outcome: "stored" };
  const deadline = Date.now() + waitMs;
  let target: number;
  try {
    target = (await progress()).published;
  } catch (err) {
    return { outcome: "unknown", err };
  }
  for (;;) {
    let unstored: number | undefined;
    try {
      ({ unstored } = await progress());
    } catch (err) {
      return { outcome: "unknown", err };
    }
    if (unstored === undefined || unstored > target) return { outcome: "stored" };
    if (Date.now() >= deadline) return { outcome: "timed_out", publishedSeq: target };
    await between();
    await sleep(pollMs);
  }
}
