import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { encodeCompletionMessage, type StoredCompletion } from "../common/register-completion.ts";
import { decodeVoteMessage } from "./decode.ts";

// A lesson register's completion travels in a vote message (`completions` beside `votes`):
// decoded for the writer, a bad one dead-lettered alone under an index after the votes'.

const completion = (): StoredCompletion => ({
  completionId: randomUUID(),
  pollId: "lesson-1",
  pollIncarnation: 7,
  completedAt: "2026-03-02T08:40:00.000Z",
  receivedAt: "2026-03-02T08:40:01.000Z",
  by: "tt-1",
});

describe("decoding a completion", () => {
  test("as the API encodes it", () => {
    const c = completion();
    const decoded = decodeVoteMessage(encodeCompletionMessage(c), 12);
    assert.deepEqual(decoded, { votes: [], completions: [c], poison: [] });
  });

  test("a bad completion is poison alone, numbered after the message's votes", () => {
    const good = completion();
    const message = Buffer.from(
      JSON.stringify({ v: 1, votes: [], completions: [good, { ...good, completionId: "x" }] }),
    );
    const decoded = decodeVoteMessage(message, 1);
    assert.deepEqual(decoded.completions, [good]);
    assert.equal(decoded.poison.length, 1);
    assert.equal(decoded.poison[0]!.itemIndex, 1);
    assert.match(decoded.poison[0]!.error, /completionId/);
  });

  test("a message without completions decodes as before", () => {
    const decoded = decodeVoteMessage(Buffer.from('{"v":1,"votes":[]}'), 1);
    assert.deepEqual(decoded, { votes: [], completions: [], poison: [] });
  });
});
