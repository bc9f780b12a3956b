import { pgCode } from "../common/postgres.ts";

// How the writer reacts to a failed batch, by SQLSTATE class (first two characters).
// "poison": Postgres refused the data itself: isolate the message and dead-letter it.
// Anything else (connection loss, shutdown, serialization failure, deadlock, a missing
// table after a bad deploy) is retried with back-off and never dead-letters a vote: a
// human or the database coming back fixes it, the votes wait in the stream.
const POISON_SQLSTATE_CLASSES: ReadonlySet<string> = new Set([
  "22", // data exception (bad timestamp, value out of range, invalid text representation)
  "23", // integrity constraint violation (check, not-null)
]);

export type FailureKind = "poison" | "transient";

export function classifyFailure(err: unknown): FailureKind {
  const code = pgCode(err);
  if (code !== undefined && code.length === 5 && POISON_SQLSTATE_CLASSES.has(code.slice(0, 2)))
    return "poison";
  return "transient";
}
