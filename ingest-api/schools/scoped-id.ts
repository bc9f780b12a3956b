import { randomInt } from "node:crypto";
import { DEFAULT_SCHOOL_ID } from "../../common/registry-types.ts";

// How a school's name for a poll or kiosk (its slug, unique within the school) becomes the
// globally unique id that URLs, NATS subjects and Redis keys take. In the `default` school
// the id is the slug, as it was before schools existed, so every existing URL keeps working.
// In any other school it is the slug and a random suffix: two schools can both call a poll
// `lunch`, and the id tells nothing about other schools (it does not depend on what they
// named). Ids keep the id pattern ([A-Za-z0-9_-]{1,64}), safe as a subject token.

/** Letters and digits without look-alikes (no 0/o, 1/l/i). */
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
const SUFFIX_LENGTH = 6; // 31^6 ≈ 890 million: a clash is redrawn (SCOPED_ID_DRAWS)
const MAX_ID_LENGTH = 64;

/** How many ids a create draws before giving up on clashes (each a 1 in 890 million chance). */
export const SCOPED_ID_DRAWS = 5;

export function scopedId(schoolId: string, slug: string): string {
  if (schoolId === DEFAULT_SCHOOL_ID) return slug;
  let suffix = "";
  for (let i = 0; i < SUFFIX_LENGTH; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return `${slug.slice(0, MAX_ID_LENGTH - SUFFIX_LENGTH - 1)}-${suffix}`;
}

/** Whether a clash on the id (not on the slug) may be drawn again: only for a generated id. */
export const drawsIds = (schoolId: string) => schoolId !== DEFAULT_SCHOOL_ID;
