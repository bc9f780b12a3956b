// Where the members of a JSON object lie in its bytes, without parsing it: the API answers
// a 10,000-person day document (~0.3-1.2 MB) by splicing the stored bytes (day-splices.ts)
// instead of JSON.parse and JSON.stringify per version, which held the event loop for
// 5-20 ms a version (and made a major gc's worth of objects), every other request waiting.
// Strings are skipped with indexOf (a quote inside a string is always escaped), so a scan
// costs per token, not per byte.

/** Bytes [start, end) of a buffer. */
export interface Span {
  start: number;
  end: number;
}

/** An object member: its key as written (quoted, escapes kept) and its value's bytes. */
export interface Member {
  /** The key's bytes, quotes included. */
  key: Span;
  /** The key as written, quotes included (`"lists"`). */
  quoted: string;
  value: Span;
  /** The value's own members, when the scan was told to descend into it. */
  members?: Member[];
}

/** Whether to read a member's value (an object) member by member too, at this depth (0: the outer object's members). */
export type Descend = (quoted: string, depth: number) => boolean;
const NOWHERE: Descend = () => false;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Not the layout expected: the caller answers by parsing instead. */
export class JsonLayoutError extends Error {}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function skipSpace(buf: Uint8Array, i: number): number {
  while (i < buf.length && isSpace(buf[i]!)) i++;
  return i;
}

/** The index just past the string whose opening quote is at `i`. */
export function skipString(buf: Buffer, i: number): number {
  // A byte loop: one indexOf per string costs more than reading the bytes (a native call
  // per ~20-byte id).
  const n = buf.length;
  for (let at = i + 1; at < n; at++) {
    const b = buf[at]!;
    if (b === BACKSLASH) at++;
    else if (b === QUOTE) return at + 1;
  }
  throw new JsonLayoutError("unterminated string");
}

/** The index just past the value starting at `i` (no space before it). */
export function skipValue(buf: Buffer, i: number): number {
  const first = buf[i];
  if (first === QUOTE) return skipString(buf, i);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    const n = buf.length;
    let depth = 0;
    let inString = false;
    for (let at = i; at < n; at++) {
      const b = buf[at]!;
      if (inString) {
        if (b === BACKSLASH) at++;
        else if (b === QUOTE) inString = false;
      } else if (b === QUOTE) inString = true;
      else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return at + 1;
      }
    }
    throw new JsonLayoutError("unterminated object or array");
  }
  // A number, true, false or null: up to the next delimiter.
  let at = i;
  while (at < buf.length) {
    const b = buf[at]!;
    if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || isSpace(b)) break;
    at++;
  }
  if (at === i) throw new JsonLayoutError(`no value at ${i}`);
  return at;
}

/**
 * The members of the object whose `{` is at `span.start`, in the order written; into the
 * values `descend` names, one scan (each byte read once).
 */
export function objectMembers(buf: Buffer, span: Span, descend: Descend = NOWHERE): Member[] {
  return scanObject(buf, span.start, descend, 0).members;
}

function scanObject(
  buf: Buffer,
  start: number,
  descend: Descend,
  depth: number,
): { members: Member[]; end: number } {
  if (buf[start] !== OPEN_OBJECT) throw new JsonLayoutError("not an object");
  const members: Member[] = [];
  let at = skipSpace(buf, start + 1);
  if (buf[at] === CLOSE_OBJECT) return { members, end: at + 1 };
  for (;;) {
    if (buf[at] !== QUOTE) throw new JsonLayoutError(`no key at ${at}`);
    const keyEnd = skipString(buf, at);
    const key = { start: at, end: keyEnd };
    at = skipSpace(buf, keyEnd);
    if (buf[at] !== COLON) throw new JsonLayoutError(`no colon at ${at}`);
    const valueStart = skipSpace(buf, at + 1);
    const quoted = buf.toString("utf8", key.start, key.end);
    let valueEnd: number;
    if (buf[valueStart] === OPEN_OBJECT && descend(quoted, depth)) {
      const inner = scanObject(buf, valueStart, descend, depth + 1);
      valueEnd = inner.end;
      members.push({
        key,
        quoted,
        value: { start: valueStart, end: valueEnd },
        members: inner.members,
      });
    } else {
      valueEnd = skipValue(buf, valueStart);
      members.push({ key, quoted, value: { start: valueStart, end: valueEnd } });
    }
    at = skipSpace(buf, valueEnd);
    if (buf[at] === CLOSE_OBJECT) return { members, end: at + 1 };
    if (buf[at] !== COMMA) throw new JsonLayoutError(`no comma at ${at}`);
    at = skipSpace(buf, at + 1);
  }
}

/** The strings of an array of strings, as written (quoted), in order. */
export function arrayStrings(buf: Buffer, span: Span): string[] {
  if (buf[span.start] !== OPEN_ARRAY) throw new JsonLayoutError("not an array");
  const out: string[] = [];
  let at = skipSpace(buf, span.start + 1);
  if (buf[at] === CLOSE_ARRAY) return out;
  for (;;) {
    if (buf[at] !== QUOTE) throw new JsonLayoutError(`not a string at ${at}`);
    const end = skipString(buf, at);
    out.push(buf.toString("utf8", at, end));
    at = skipSpace(buf, end);
    if (buf[at] === CLOSE_ARRAY) return out;
    if (buf[at] !== COMMA) throw new JsonLayoutError(`no comma at ${at}`);
    at = skipSpace(buf, at + 1);
  }
}

/** The whole buffer's span, past any space around the value. */
export function wholeSpan(buf: Buffer): Span {
  let end = buf.length;
  while (end > 0 && isSpace(buf[end - 1]!)) end--;
  return { start: skipSpace(buf, 0), end };
}
