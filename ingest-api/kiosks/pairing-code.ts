import { createHash, randomInt } from "node:crypto";

// A kiosk pairing code: 8 characters of Crockford base32 (40 random bits), shown as
// XXXX-XXXX. Short enough to type on a kiosk's screen keyboard; safe because it is single
// use, expires in minutes (PAIRING_CODE_TTL_MS) and POST /v1/pair is rate-limited per
// address. Crockford's alphabet has no I, L, O or U, so the characters people confuse are
// read as what they look like (I and L as 1, O as 0) and case does not matter.

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const PAIRING_CODE_LENGTH = 8;
const VALID = /^[0-9A-HJKMNP-TV-Z]{8}$/;

/** A new random code, formatted for display (`XXXX-XXXX`). */
export function newPairingCode(): string {
  let code = "";
  for (let i = 0; i < PAIRING_CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * The code's canonical form (8 upper-case characters), or undefined when the text cannot
 * be a code: case-insensitive, dashes and white space ignored, I/L read as 1 and O as 0.
 */
export function normalizePairingCode(text: string): string | undefined {
  const code = text.toUpperCase().replace(/[\s-]/g, "").replace(/[IL]/g, "1").replace(/O/g, "0");
  return VALID.test(code) ? code : undefined;
}

/** What is stored: the sha256 of the canonical form, never the code. */
export function hashPairingCode(canonical: string): Buffer {
  return createHash("sha256").update(canonical).digest();
}
