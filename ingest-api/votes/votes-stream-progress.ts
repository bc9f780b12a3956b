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
