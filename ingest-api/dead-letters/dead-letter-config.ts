import { type Env, readInt } from "../../common/env.ts";

/** The dead letters' routes (ingest-api/dead-letters/): page sizes and how many a replay-all takes. */
export interface DeadLetterConfig {
  /** Dead letters in a page of `GET /v1/dead-letters` without `limit`. @defaultValue 50 */
  readonly pageDefault: number;
  /** Largest `limit` of `GET /v1/dead-letters`. @defaultValue 500 */
  readonly pageMax: number;
  /**
   * Dead letters one `POST /v1/dead-letters/replay` publishes (oldest first; `more` says
   * whether others wait): one request stays short however many there are. @defaultValue 1000
   */
  readonly replayMax: number;
}

export function readDeadLetterConfig(env: Env): DeadLetterConfig {
  const pageMax = readInt(env, "DEAD_LETTERS_PAGE_MAX", 500, { min: 1, max: 10_000 });
  return Object.freeze({
    // A smaller DEAD_LETTERS_PAGE_MAX alone lowers the default with it.
    pageDefault: readInt(env, "DEAD_LETTERS_PAGE_DEFAULT", Math.min(50, pageMax), {
      min: 1,
      max: pageMax,
    }),
    pageMax,
    replayMax: readInt(env, "DEAD_LETTERS_REPLAY_MAX", 1_000, { min: 1, max: 100_000 }),
  });
}
