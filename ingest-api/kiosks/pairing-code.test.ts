import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hashPairingCode, newPairingCode, normalizePairingCode } from "./pairing-code.ts";

describe("pairing codes", () => {
  test("a new code is XXXX-XXXX in Crockford base32, and codes differ", () => {
    const codes = new Set(Array.from({ length: 200 }, () => newPairingCode()));
    assert.equal(codes.size, 200);
    for (const code of codes) {
      assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      assert.equal(normalizePairingCode(code), code.replace("-", ""));
    }
  });

  test("input is case-insensitive, dashes and spaces are ignored, I/L read as 1 and O as 0", () => {
    assert.equal(normalizePairingCode("abcd-efgh"), "ABCDEFGH");
    assert.equal(normalizePairingCode(" AB CD  EF-GH "), "ABCDEFGH");
    assert.equal(normalizePairingCode("ILio-1L0O"), "11101100");
    assert.equal(normalizePairingCode("a-b-c-d-e-f-g-h"), "ABCDEFGH");
  });

  test("what cannot be a code is undefined", () => {
    for (const text of [
      "",
      "ABCDEFG",
      "ABCDEFGHJ",
      "ABCD-EFGU",
      "ABCD_EFGH",
      "ABCD.EFGH",
      "ÀBCD-EFGH",
    ])
      assert.equal(normalizePairingCode(text), undefined, text);
  });

  test("the stored hash is the sha256 of the canonical form: every spelling hashes alike", () => {
    const a = hashPairingCode(normalizePairingCode("0o1l-abcd")!);
    const b = hashPairingCode(normalizePairingCode("0011ABCD")!);
    assert.deepEqual(a, b);
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, hashPairingCode("0011ABCE"));
  });
});
