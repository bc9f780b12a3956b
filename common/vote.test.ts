import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { storedVoteSchema, voteInputSchema } from "./vote.ts";

// The voter id's normal form (trimmed, NFC, case kept) is made in the vote schema; a
// message's schema normalises too, for messages published before the API did.

const input = (voterId: string) =>
  voteInputSchema.safeParse({ pollId: "p", optionId: "o", voterId });
const stored = (voterId: string) =>
  storedVoteSchema.safeParse({
    eventId: "00000000-0000-4000-8000-000000000001",
    pollId: "p",
    optionId: "o",
    kioskId: "k",
    voterId,
    castAt: "2026-05-01T12:00:00.000Z",
    receivedAt: "2026-05-01T12:00:00.000Z",
  });

describe("voter id normalisation", () => {
  test("trimmed and NFC at the API, case kept; limits apply after", () => {
    for (const raw of ["jos\u00e9", " jos\u00e9", "jose\u0301", "\u00a0jose\u0301\t"])
      assert.equal(input(raw).data?.voterId, "jos\u00e9", JSON.stringify(raw));
    assert.equal(input("Jos\u00e9").data?.voterId, "Jos\u00e9");
    assert.equal(input(`  ${"x".repeat(128)}  `).data?.voterId, "x".repeat(128));
    const long = input("x".repeat(129));
    assert.equal(long.error?.issues[0]?.message, "must be at most 128 characters");
    assert.equal(input(" \u3000 ").error?.issues[0]?.message, "must not be empty");
    assert.equal(
      input("a\u0000b").error?.issues[0]?.message,
      "must not contain control characters or backslash",
    );
  });

  test("an id Postgres would rewrite is refused: lone surrogates, U+FFFD from bytes not UTF-8", () => {
    const refused = "must be valid UTF-8 text (no lone surrogate, no U+FFFD replacement character)";
    for (const raw of ["\ud800x", "x\udfff", "\udc00\ud800", "ab\ufffd"])
      assert.equal(input(raw).error?.issues[0]?.message, refused, JSON.stringify(raw));
    // A well-formed pair outside the BMP is fine.
    assert.equal(input("\ud83d\ude00").data?.voterId, "\u{1f600}");
  });

  test("a message from before normalisation is normalised, and never refused for it", () => {
    assert.equal(stored(" jose\u0301").data?.voterId, "jos\u00e9");
    assert.equal(stored("   ").data?.voterId, "   ", "an id of spaces stays what it was");
    assert.equal(stored("a\\b").success, false);
  });
});
