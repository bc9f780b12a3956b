import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

/**
 * JetStream API error codes nats.js does not name (its `JetStreamApiCodes` has only a few),
 * kept here so that no code base file compares a bare number. Names and numbers are the
 * server's own, from nats-server's `server/errors.json`.
 */
export const JetStreamServerCodes = Object.freeze({
  /** JSMemoryResourcesExceededErr: insufficient memory resources available. */
  MemoryResourcesExceeded: 10028,
  /** JSStorageResourcesExceededErr: insufficient storage resources available. */
  StorageResourcesExceeded: 10047,
  /** JSStreamStoreFailedF: storing failed, e.g. max bytes reached under discard "new". */
  StreamStoreFailed: 10077,
} as const);

// The codes that mean "the stream is full", not "NATS is down": the API answers them with
// 503 queue_full and does not retry.
const STREAM_FULL_CODES: ReadonlySet<number> = new Set([
  JetStreamServerCodes.MemoryResourcesExceeded,
  JetStreamServerCodes.StorageResourcesExceeded,
  JetStreamServerCodes.StreamStoreFailed,
]);

export function isStreamFull(err: unknown): boolean {
  return err instanceof JetStreamApiError && STREAM_FULL_CODES.has(err.code);
}

/** JetStream answered that the stream or the consumer does not exist. */
export function isStreamOrConsumerNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound ||
      err.code === JetStreamApiCodes.ConsumerNotFound)
  );
}
