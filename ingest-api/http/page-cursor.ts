import { z } from "zod";

// Keyset pages, the one home of their query parameters and cursors: every admin list
// (people, attendance, polls, kiosks, schools) takes `?limit=` and `?after=` and answers
// `next`. A page is one range of an index whatever the table holds (no OFFSET, whose cost
// grows with the page number), and stays stable while rows are added before or after it.

/**
 * A cursor: the sort key of the last row of the page before, its parts joined by a line
 * feed (no key part holds one: ids, instants and small numbers), base64url (RFC 4648 §5,
 * unpadded). Opaque to clients. A one-part key encodes as the part alone, the people API's
 * cursor since it was first answered.
 */
export const encodeCursor = (...parts: string[]): string =>
  Buffer.from(parts.join("\n"), "utf8").toString("base64url");

/**
 * The parts of a cursor, strictly: it must encode back to itself, hold `arity` parts, and
 * each part pass `check`; otherwise undefined (a hand-edited cursor is a 400, never a page
 * from the wrong place).
 */
export function decodeCursor(
  cursor: string,
  arity: number,
  check: (part: string, index: number) => boolean,
): string[] | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) return undefined;
  const bytes = Buffer.from(cursor, "base64url");
  if (bytes.toString("base64url") !== cursor) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const parts = text.split("\n");
  if (parts.length !== arity || !parts.every(check)) return undefined;
  return parts;
}

/** A query parameter given once (`?a=1&a=2` is an array, refused with this message). */
export const once = (what: string) => z.string({ error: `must be given once, as ${what}` });

/** `?limit=`: a page size from 1 to `pageMax` (400 naming `limit` beyond). */
export const pageLimitSchema = (pageMax: number) =>
  once("a whole number")
    .regex(/^\d{1,6}$/, { error: `must be a whole number from 1 to ${pageMax}` })
    .transform(Number)
    .refine((n) => n >= 1 && n <= pageMax, {
      error: `must be a whole number from 1 to ${pageMax}`,
    });

/** `?after=`: the `next` of the page before, decoded by `decode` (undefined: not a cursor). */
export const cursorSchema = <T>(decode: (cursor: string) => T | undefined) =>
  once("the `next` of the page before").transform((cursor, ctx): T => {
    const key = decode(cursor);
    if (key === undefined) {
      ctx.addIssue({ code: "custom", message: "is not a cursor: pass `next` as answered" });
      return z.NEVER;
    }
    return key;
  });

/** An instant as a cursor part: what `Date#toISOString` writes, to the microsecond at most. */
export const isInstantPart = (part: string): boolean =>
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(part) && !Number.isNaN(Date.parse(part));

/** The `next` of a page read with `limit + 1` rows: the cursor of its last row, or null. */
export function pageOf<T>(
  rows: readonly T[],
  limit: number,
  key: (row: T) => string[],
): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  return {
    items,
    next: rows.length > limit ? encodeCursor(...key(items.at(-1)!)) : null,
  };
}

/** Page sizes of the admin lists (polls, kiosks, schools). */
export interface ListPageConfig {
  /** Rows in a page of `GET /v1/polls`, `/v1/kiosks`, `/v1/schools` without `limit` (at most pageMax). @defaultValue 100 */
  readonly pageDefault: number;
  /** Largest `limit` of those lists. @defaultValue 500 */
  readonly pageMax: number;
}

/** Escapes `%`, `_` and `\` of a search prefix for `like … escape '\'`. */
export const likePrefix = (q: string): string => `${q.replace(/[\\%_]/g, "\\$&")}%`;
