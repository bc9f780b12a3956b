import {
  arrayStrings,
  JsonLayoutError,
  type Member,
  objectMembers,
  type Span,
  wholeSpan,
} from "./json-spans.ts";
import type { SchoolNames } from "./roster-names.ts";

// The admin's day answers spliced from the stored document's bytes (day-answers.ts says
// what they hold): the whole school is the document with each group's section cut to its
// counts, a group is the head and that group's section and details, the names an object
// written from fragments kept per names read. What it copies is what the publisher wrote
// (JSON.stringify's bytes: result-publisher/attendance-live-day.ts), so the answer is byte
// for byte what parsing and stringifying gave (day-splices.test.ts holds it to that),
// without a parse per version: the whole school's answer holds the event loop a sixth to
// a twentieth as long as the parse and stringify did (bench:attendance-answers: ~2 ms
// against ~36-53 ms a version at 10,000 people, on a loaded 2-core machine).

/** Where a day document's parts lie, found once per version. */
export interface DayLayout {
  /** Top-level members other than counts, lists, groups and details, in order. */
  meta: Member[];
  counts: Span;
  lists: Span;
  details: Span;
  /** By group name: its section's counts and lists. */
  groups: Map<string, { key: Span; counts: Span; lists: Span }>;
  /** Group names in the order written. */
  groupOrder: string[];
  /** The details' members, found on first use (a group's answer). */
  detailMembers?: Member[];
}

const PARTS = new Set(['"counts"', '"lists"', '"groups"', '"details"']);

/** A key or string as its value: parsed only when it holds an escape. */
const unquote = (quoted: string): string =>
  quoted.includes("\\") ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);

function member(members: readonly Member[], quoted: string): Member {
  const found = members.find((m) => m.quoted === quoted);
  if (found === undefined) throw new JsonLayoutError(`no ${quoted}`);
  return found;
}

/** The layout of a stored day document; throws JsonLayoutError when it is not one. */
export function dayLayout(json: Buffer): DayLayout {
  // One scan: into `groups` and each group's section, past everything else.
  const top = objectMembers(
    json,
    wholeSpan(json),
    (quoted, depth) => (depth === 0 && quoted === '"groups"') || depth === 1,
  );
  const seen = new Set<string>();
  for (const m of top) {
    // A key twice: JSON.parse keeps the last; leave that to the parse.
    if (seen.has(m.quoted)) throw new JsonLayoutError(`${m.quoted} twice`);
    seen.add(m.quoted);
  }
  const groups = new Map<string, { key: Span; counts: Span; lists: Span }>();
  const groupOrder: string[] = [];
  for (const g of member(top, '"groups"').members ?? []) {
    const section = g.members;
    if (section === undefined) throw new JsonLayoutError(`group ${g.quoted} is no object`);
    const name = unquote(g.quoted);
    if (groups.has(name)) throw new JsonLayoutError(`group ${g.quoted} twice`);
    groups.set(name, {
      key: g.key,
      counts: member(section, '"counts"').value,
      lists: member(section, '"lists"').value,
    });
    groupOrder.push(name);
  }
  return {
    meta: top.filter((m) => !PARTS.has(m.quoted)),
    counts: member(top, '"counts"').value,
    lists: member(top, '"lists"').value,
    details: member(top, '"details"').value,
    groups,
    groupOrder,
  };
}

/** An answer in pieces: strings and spans of the document, concatenated once. */
class Pieces {
  readonly #json: Buffer;
  readonly #parts: Buffer[] = [];
  constructor(json: Buffer) {
    this.#json = json;
  }
  text(s: string): this {
    this.#parts.push(Buffer.from(s));
    return this;
  }
  span(s: Span): this {
    this.#parts.push(this.#json.subarray(s.start, s.end));
    return this;
  }
  member(m: Member): this {
    return this.span({ start: m.key.start, end: m.value.end });
  }
  done(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** A quoted key JS objects (so JSON.stringify) put first, in numeric order: an array index. */
const INDEX_KEY = /^"(?:0|[1-9][0-9]*)"$/;
const isIndexKey = (quoted: string) =>
  INDEX_KEY.test(quoted) && Number(quoted.slice(1, -1)) < 4_294_967_295;

/**
 * A string as JSON.stringify writes it, from the bytes written: the same unless they hold
 * an escape (the publisher's are JSON.stringify's; one written otherwise is written again).
 */
const canonical = (quoted: string): string =>
  quoted.includes("\\") ? JSON.stringify(JSON.parse(quoted) as string) : quoted;

/** A listed person's part of `names`, kept per names read: a version costs a lookup and a join. */
interface NameFragment {
  quoted: string;
  /** `"id":"name"` or `"id":null`, one flat string. */
  text: string;
  indexKey: boolean;
  /** The last answer that listed it: each id once per answer, without a set. */
  seenBy: number;
}
const fragments = new WeakMap<SchoolNames, Map<string, NameFragment>>();
let answers = 0;

/** The ids of a section's lists, each once, in Object.values(lists).flat() order: their fragments. */
function listedFragments(json: Buffer, lists: Span, names: SchoolNames): NameFragment[] {
  let kept = fragments.get(names);
  if (kept === undefined) {
    kept = new Map();
    fragments.set(names, kept);
  }
  const answer = ++answers;
  const out: NameFragment[] = [];
  for (const kind of objectMembers(json, lists))
    for (const written of arrayStrings(json, kind.value)) {
      let f = kept.get(written);
      if (f === undefined) {
        const quoted = canonical(written);
        const name = names.names.get(JSON.parse(quoted) as string) ?? null;
        // Joined, not concatenated: a flat string, not a rope the answer's join flattens.
        const text = [quoted, ":", JSON.stringify(name)].join("");
        f = { quoted, text, indexKey: isIndexKey(quoted), seenBy: 0 };
        kept.set(written, f);
      }
      if (f.seenBy === answer) continue;
      f.seenBy = answer;
      out.push(f);
    }
  return out;
}

/** `{"id":"name",…}`: in the order an object they were inserted into in this order has them. */
function namesText(listed: NameFragment[]): string {
  let ordered = listed;
  if (listed.some((f) => f.indexKey)) {
    const indexed = listed
      .filter((f) => f.indexKey)
      .sort((a, b) => Number(a.quoted.slice(1, -1)) - Number(b.quoted.slice(1, -1)));
    ordered = [...indexed, ...listed.filter((f) => !f.indexKey)];
  }
  return `{${ordered.map((f) => f.text).join(",")}}`;
}

/** The ids of a section's lists (quoted, canonical), each once. */
function listedIds(json: Buffer, lists: Span): Set<string> {
  const ids = new Set<string>();
  for (const kind of objectMembers(json, lists))
    for (const quoted of arrayStrings(json, kind.value)) ids.add(canonical(quoted));
  return ids;
}

function head(pieces: Pieces, layout: DayLayout): void {
  pieces.text("{");
  layout.meta.forEach((m, n) => {
    if (n > 0) pieces.text(",");
    pieces.member(m);
  });
  if (layout.meta.length > 0) pieces.text(",");
}

/** The whole school: counts, lists, each group's counts, the details (and names). */
export function splicedSchoolAnswer(
  json: Buffer,
  layout: DayLayout,
  names: SchoolNames | null,
): Buffer {
  const pieces = new Pieces(json);
  head(pieces, layout);
  pieces.text('"counts":').span(layout.counts).text(',"lists":').span(layout.lists);
  pieces.text(',"groups":{');
  layout.groupOrder.forEach((name, n) => {
    const g = layout.groups.get(name)!;
    pieces
      .text(n === 0 ? "" : ",")
      .span(g.key)
      .text(":")
      .span(g.counts);
  });
  pieces.text('},"details":').span(layout.details);
  if (names !== null)
    pieces.text(`,"names":${namesText(listedFragments(json, layout.lists, names))}`);
  return pieces.text("}").done();
}

/**
 * One group: its counts and lists (`zeros` and `noLists`, JSON, for a group nobody is in)
 * and the details of the people in its lists (and names).
 */
export function splicedGroupAnswer(
  json: Buffer,
  layout: DayLayout,
  group: string,
  names: SchoolNames | null,
  zeros: string,
  noLists: string,
): Buffer {
  const pieces = new Pieces(json);
  head(pieces, layout);
  pieces.text(`"group":${JSON.stringify(group)},"counts":`);
  const section = layout.groups.get(group);
  const ids = section === undefined ? new Set<string>() : listedIds(json, section.lists);
  if (section === undefined) pieces.text(`${zeros},"lists":${noLists}`);
  else pieces.span(section.counts).text(',"lists":').span(section.lists);
  pieces.text(',"details":{');
  if (ids.size > 0) {
    layout.detailMembers ??= objectMembers(json, layout.details);
    const shown = ids;
    let first = true;
    for (const d of layout.detailMembers) {
      if (!shown.has(canonical(d.quoted))) continue;
      if (!first) pieces.text(",");
      pieces.member(d);
      first = false;
    }
  }
  pieces.text("}");
  if (names !== null && section !== undefined)
    pieces.text(`,"names":${namesText(listedFragments(json, section.lists, names))}`);
  else if (names !== null) pieces.text(',"names":{}');
  return pieces.text("}").done();
}
