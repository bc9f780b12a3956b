import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../common/errors.ts";
import { encodeVoteMessage, type StoredVote } from "../../common/vote.ts";
import {
  HEADER_ALLOWANCE_BYTES,
  largestVoteMessageBytes,
  resolveMaxMessageBytes,
  splitVoteMessages,
} from "./vote-messages.ts";

const vote = (i: number, voterId?: string): StoredVote => ({
  eventId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  pollId: "lunch",
  optionId: "pizza",
  kioskId: "k1",
  ...(voterId === undefined ? {} : { voterId }),
  castAt: "2026-05-01T12:00:00.000Z",
  receivedAt: "2026-05-01T12:00:01.000Z",
});

describe("splitVoteMessages", () => {
  test("one message when the votes fit: the bytes of encodeVoteMessage", () => {
    const votes = [vote(1), vote(2, "alice"), vote(3)];
    const chunks = splitVoteMessages(votes, 1_000_000);
    assert.equal(chunks.length, 1);
    assert.deepEqual({ start: chunks[0]!.start, end: chunks[0]!.end }, { start: 0, end: 3 });
    assert.deepEqual(Buffer.from(chunks[0]!.data), Buffer.from(encodeVoteMessage(votes)));
  });

  test("each message under the limit, every vote once in order, the same cut every time", () => {
    const votes = Array.from({ length: 200 }, (_, i) => vote(i, "\ud800".repeat(i % 128)));
    const maxBytes = largestVoteMessageBytes() * 3;
    const chunks = splitVoteMessages(votes, maxBytes);
    assert.ok(chunks.length > 10);
    let next = 0;
    for (const c of chunks) {
      assert.equal(c.start, next);
      assert.ok(c.end > c.start);
      assert.ok(c.data.length <= maxBytes, `${c.data.length} > ${maxBytes}`);
      assert.deepEqual(
        Buffer.from(c.data),
        Buffer.from(encodeVoteMessage(votes.slice(c.start, c.end))),
      );
      next = c.end;
    }
    assert.equal(next, votes.length);
    // Greedy: no message could have taken the next vote as well.
    for (const c of chunks.slice(0, -1))
      assert.ok(encodeVoteMessage(votes.slice(c.start, c.end + 1)).length > maxBytes);
    // Other receive times (the same length of text) cut the batch the same way.
    const later = votes.map((v) => ({ ...v, receivedAt: "2026-05-02T08:30:59.999Z" }));
    assert.deepEqual(
      splitVoteMessages(later, maxBytes).map((c) => [c.start, c.end]),
      chunks.map((c) => [c.start, c.end]),
    );
  });

  test("a limit of one largest vote still carries every vote, one a message", () => {
    const votes = [vote(1, "\ud800".repeat(128)), vote(2, "\ud800".repeat(128))];
    const chunks = splitVoteMessages(votes, largestVoteMessageBytes());
    assert.deepEqual(
      chunks.map((c) => [c.start, c.end]),
      [
        [0, 1],
        [1, 2],
      ],
    );
  });

  test("no votes, no messages", () => {
    assert.deepEqual(splitVoteMessages([], 10_000), []);
  });
});

describe("resolveMaxMessageBytes", () => {
  const failsNaming = (fn: () => unknown, message: RegExp) =>
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, "MAX_MESSAGE_BYTES");
      assert.match(err.message, message);
      return true;
    });

  test("0 derives the limit from the server's max_payload, less the header allowance", () => {
    assert.equal(resolveMaxMessageBytes(0, 1_048_576), 1_048_576 - HEADER_ALLOWANCE_BYTES);
    assert.equal(resolveMaxMessageBytes(0, 8_388_608), 8_388_608 - HEADER_ALLOWANCE_BYTES);
    assert.equal(resolveMaxMessageBytes(0, undefined), 1_048_576 - HEADER_ALLOWANCE_BYTES);
  });

  test("a configured limit is kept when the server takes it, refused when it would not", () => {
    assert.equal(resolveMaxMessageBytes(100_000, 1_048_576), 100_000);
    failsNaming(() => resolveMaxMessageBytes(1_048_576, 1_048_576), /at most 1044480/);
  });

  test("a server whose max_payload cannot carry one vote is refused at start", () => {
    failsNaming(() => resolveMaxMessageBytes(0, 1_024), /at least \d+ \(one vote at its largest\)/);
  });

  test("the largest vote: every id at its longest, 128 lone surrogates of 6 bytes", () => {
    const bytes = largestVoteMessageBytes();
    assert.ok(bytes > 128 * 6 + 3 * 64 + 36 + 2 * 24, String(bytes));
    assert.ok(bytes < 16_384, "smaller than the single-vote body limit");
  });
});
