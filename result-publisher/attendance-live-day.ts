import { createHash } from "node:crypto";
import type { DayRules } from "../common/attendance/person-day.ts";
import type { LocalDay } from "../common/attendance/school-day.ts";
import { type AttendanceCounts, formatAttendanceVersion } from "../common/attendance-contract.ts";
import {
  ANOMALIES,
  AUTO_CLOSED,
  type BuiltDay,
  documentHead,
  FEVER,
  joinObjects,
  LATE,
  rulesOf,
  type Status,
  viewPerson,
} from "./attendance-document.ts";
import type { AttendanceSchool, DayRow, RosterPerson } from "./attendance-store.ts";

// A school's today kept by the publisher between runs, so that a run in the morning peak
// (every school changed by a few check-ins every interval) costs what changed, not the
// school: no read of the roster or of the day's rows (the changed rows come from one query
// for every school, loadChangedDayRows), a view only of the people whose row changed, and the
// JSON re-serialised only for the blocks of people they are in. The document it gives is
// byte for byte buildDayDocument's on the same roster and rows (attendance-live-day.test.ts
// checks it), so its version is the one a restarted publisher computes from scratch.
//
// Compact, because a publisher holds every school's today (10 million people at the
// reference scale): per person its quoted id within one string of the school's (and its
// offset), one byte of status and flags, its groups as indices, its place in each group's
// member list; the serialised lists are kept per block of BLOCK people of a section (the
// school, each group) and list kind, ~the document's own bytes, and assembled by one join
// per build (no second copy kept). What a flag rests on is kept for the flagged people only.
// No object, no string per person: the heap a major gc walks stays small.

/** People per block of a section: a change re-serialises the block's lists only. */
const BLOCK = 256;
const KIND_NAMES = ["inNow", "out", "absent", "late", "fever", "autoClosed", "anomalies"] as const;
const KINDS = KIND_NAMES.length;
/** A person's code: the status in bits 0-1, the flags (attendance-document.ts) above them. */
const STATUS_CODE: Record<Status, number> = { none: 0, inNow: 1, out: 2, absent: 3 };
const FLAG_SHIFT = 2;
const COUNT_NAMES = [
  "roster",
  "inNow",
  "present",
  "absent",
  "late",
  "fever",
  "autoClosed",
  "anomalies",
] as const;

interface Section {
  /** Person indices in document order; null: everyone (the whole school). */
  members: Int32Array | null;
  size: number;
  /** In COUNT_NAMES order. */
  counts: Float64Array;
  /** Block b's list of kind k at `b * KINDS + k`: its quoted ids joined with commas. */
  fragments: string[];
  dirty: Set<number>;
  countsJson: string | null;
}

const newSection = (members: Int32Array | null, size: number): Section => {
  const blocks = Math.ceil(size / BLOCK);
  const dirty = new Set<number>();
  for (let b = 0; b < blocks; b++) dirty.add(b);
  return {
    members,
    size,
    counts: new Float64Array(COUNT_NAMES.length),
    fragments: new Array<string>(blocks * KINDS).fill(""),
    dirty,
    countsJson: null,
  };
};

/** Adds (sign 1) or takes away (-1) a person's part of a section's counts (as add() counts). */
function contribute(
  counts: Float64Array,
  sign: number,
  active: boolean,
  code: number,
  anomalies: number,
): void {
  if (active) counts[0]! += sign;
  const status = code & 3;
  if (status === 1 || status === 2) counts[2]! += sign;
  if (status === 1) counts[1]! += sign;
  if (status === 3) counts[3]! += sign;
  const flags = code >> FLAG_SHIFT;
  if (flags & LATE) counts[4]! += sign;
  if (flags & FEVER) counts[5]! += sign;
  if (flags & AUTO_CLOSED) counts[6]! += sign;
  if (flags & ANOMALIES) counts[7]! += sign * anomalies;
}

const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;
/** A key JSON.stringify writes first, in numeric order (an array index), as objects order them. */
const isIndexKey = (key: string) => INDEX_KEY.test(key) && Number(key) < 4_294_967_295;

/** Keys in the order an object built by inserting them in this order serialises them. */
function objectKeyOrder<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  const indexed = items.filter((i) => isIndexKey(keyOf(i)));
  if (indexed.length === 0) return [...items];
  indexed.sort((a, b) => Number(keyOf(a)) - Number(keyOf(b)));
  return [...indexed, ...items.filter((i) => !isIndexKey(keyOf(i)))];
}

export class LiveDay {
  readonly school: AttendanceSchool;
  readonly day: LocalDay;
  readonly schoolDay: boolean;
  readonly dayOver: boolean;
  readonly #rules: DayRules;
  /** The instant views are taken at: any on the same side of dayEndsAt gives the same view. */
  readonly #viewAtMs: number;
  /**
   * JSON-quoted ids, end to end: the active roster (the order read), then the others in id
   * order; person p's is #ids.slice(#idAt[p], #idAt[p + 1]).
   */
  readonly #ids: string;
  readonly #idAt: Uint32Array;
  /** Whether some id is a key JSON orders first (an array index): details then need sorting. */
  readonly #indexIds: boolean;
  readonly #active: number;
  /** Quoted roster id → index, only when the roster's quoted ids are not in JS order. */
  readonly #lookup: Map<string, number> | null;
  /** The others (a row, no place in the active roster): quoted id → index. */
  readonly #others: Map<string, number>;
  /** Person p's groups: #groupOf[#groupStart[p] … #groupStart[p + 1]). */
  readonly #groupStart: Uint32Array;
  readonly #groupOf: Uint16Array | Uint32Array;
  readonly #codes: Uint8Array;
  /** Flagged people only: anomalies (> 0) and the detail's `"id":{…}`. */
  readonly #anomalies = new Map<number, number>();
  readonly #details = new Map<number, string>();
  #detailsJson: string | null = null;
  #asOfMs: number | null = null;
  readonly #whole: Section;
  /** By group index (names in sort order). */
  readonly #groups: Section[];
  /** Quoted group names by group index. */
  readonly #groupKeys: string[];
  /** Group indices in the document's key order. */
  readonly #groupOrder: number[];
  #groupCountsJson: string | null = null;

  /** The day as buildDayDocument would build it from these (the same arguments). */
  constructor(
    school: AttendanceSchool,
    day: LocalDay,
    schoolDay: boolean,
    roster: readonly RosterPerson[],
    rows: readonly DayRow[],
    nowMs: number,
  ) {
    this.school = school;
    this.day = day;
    this.schoolDay = schoolDay;
    this.#rules = rulesOf(school, day);
    this.#viewAtMs = nowMs;
    this.dayOver = nowMs >= this.#rules.dayEndMs;

    const byPerson = new Map<string, DayRow>();
    for (const r of rows) {
      if (this.#asOfMs === null || r.updatedAtMs > this.#asOfMs) this.#asOfMs = r.updatedAtMs;
      byPerson.set(r.personId, r);
    }
    const ids: string[] = [];
    const groupsOf: (readonly string[])[] = [];
    for (const p of roster) {
      ids.push(p.id);
      groupsOf.push(p.groups);
    }
    this.#active = ids.length;
    const inRoster = new Set(ids);
    const others = [...byPerson.keys()].filter((id) => !inRoster.has(id)).sort();
    for (const id of others) {
      ids.push(id);
      groupsOf.push(byPerson.get(id)!.groups ?? []);
    }
    const people = ids.length;
    const quoted = ids.map((id) => JSON.stringify(id));
    this.#idAt = new Uint32Array(people + 1);
    for (let p = 0; p < people; p++) this.#idAt[p + 1] = this.#idAt[p]! + quoted[p]!.length;
    this.#ids = quoted.join("");
    this.#indexIds = ids.some(isIndexKey);
    let sorted = true;
    for (let i = 1; i < this.#active && sorted; i++) sorted = quoted[i - 1]! < quoted[i]!;
    this.#lookup = sorted ? null : new Map(quoted.slice(0, this.#active).map((q, i) => [q, i]));
    this.#others = new Map(others.map((_, i) => [quoted[this.#active + i]!, this.#active + i]));

    // Groups: names in sort order; each person's as indices; each group's members.
    const names = [...new Set(groupsOf.flat())].sort();
    const groupIndex = new Map(names.map((g, i) => [g, i]));
    this.#groupKeys = names.map((g) => JSON.stringify(g));
    this.#groupOrder = objectKeyOrder(
      names.map((_, i) => i),
      (i) => names[i]!,
    );
    this.#groupStart = new Uint32Array(people + 1);
    let memberships = 0;
    for (let p = 0; p < people; p++) memberships += groupsOf[p]!.length;
    this.#groupOf =
      names.length <= 65_536 ? new Uint16Array(memberships) : new Uint32Array(memberships);
    const sizes = new Int32Array(names.length);
    let at = 0;
    for (let p = 0; p < people; p++) {
      this.#groupStart[p] = at;
      for (const g of groupsOf[p]!) {
        const gi = groupIndex.get(g)!;
        this.#groupOf[at++] = gi;
        sizes[gi]!++;
      }
    }
    this.#groupStart[people] = at;
    const members = Array.from(sizes, (n) => new Int32Array(n));
    const filled = new Int32Array(names.length);
    for (let p = 0; p < people; p++)
      for (let j = this.#groupStart[p]!; j < this.#groupStart[p + 1]!; j++) {
        const gi = this.#groupOf[j]!;
        members[gi]![filled[gi]!++] = p;
      }
    this.#whole = newSection(null, people);
    this.#groups = members.map((m) => newSection(m, m.length));

    this.#codes = new Uint8Array(people);
    for (let p = 0; p < people; p++) {
      const code = this.#view(p, byPerson.get(ids[p]!));
      const anomalies = this.#anomalies.get(p) ?? 0;
      this.#forSections(p, (s) => contribute(s.counts, 1, p < this.#active, code, anomalies));
    }
  }

  get people(): number {
    return this.#codes.length;
  }

  /**
   * Rows of this day changed since: each person's view taken again. False when a row's person
   * has no place here (neither active in the roster read nor another with a row then): the
   * caller builds the day again from its reads.
   */
  apply(rows: readonly DayRow[]): boolean {
    for (const row of rows) {
      const p = this.#indexOf(row.personId);
      if (p < 0) return false;
      if (this.#asOfMs === null || row.updatedAtMs > this.#asOfMs) this.#asOfMs = row.updatedAtMs;
      const oldCode = this.#codes[p]!;
      const oldAnomalies = this.#anomalies.get(p) ?? 0;
      const code = this.#view(p, row);
      const anomalies = this.#anomalies.get(p) ?? 0;
      if (code === oldCode && anomalies === oldAnomalies) continue;
      const active = p < this.#active;
      this.#forSections(p, (s, position) => {
        contribute(s.counts, -1, active, oldCode, oldAnomalies);
        contribute(s.counts, 1, active, code, anomalies);
        s.countsJson = null;
        if (code !== oldCode) s.dirty.add(Math.floor(position / BLOCK));
      });
      this.#groupCountsJson = null;
    }
    return true;
  }

  /** Both documents, as buildDayDocument gives them. */
  build(publishedAtMs: number): BuiltDay {
    const head = JSON.stringify(
      documentHead(
        this.school,
        this.day,
        this.#rules.dayEndMs,
        this.dayOver,
        this.schoolDay,
        this.#asOfMs,
      ),
    ).slice(0, -1);
    const whole = this.#fresh(this.#whole);
    // The content in pieces, joined once: the kept fragments are not copied into a cache.
    // The head's "{" is left out: the bytes after it are both the document's and the hash's.
    const parts: string[] = [head.slice(1), ',"counts":', whole.countsJson!, ',"lists":'];
    pushLists(parts, whole);
    parts.push(',"groups":{');
    this.#groupOrder.forEach((gi, n) => {
      const s = this.#fresh(this.#groups[gi]!);
      parts.push(n === 0 ? "" : ",", this.#groupKeys[gi]!, ':{"counts":', s.countsJson!);
      parts.push(',"lists":');
      pushLists(parts, s);
      parts.push("}");
    });
    parts.push('},"details":{', this.#detailsText(), "}}");
    const body = parts.join("");
    if (this.#groupCountsJson === null)
      this.#groupCountsJson = this.#groupOrder
        .map((gi) => `${this.#groupKeys[gi]}:${this.#groups[gi]!.countsJson}`)
        .join(",");
    // Encoded once, straight into the document's buffer after room for the stamp (its length
    // is the version's and an ISO instant's): hashed there and sent to Redis as it is. A
    // document of 10,000 people is ~285 KB, and each pass over it counts in the peak.
    const publishedAt = new Date(publishedAtMs).toISOString();
    const stampLength = JSON.stringify({
      version: formatAttendanceVersion("0".repeat(16), this.dayOver),
      publishedAt,
    }).length;
    const json = Buffer.allocUnsafe(stampLength + Buffer.byteLength(body));
    json.write(body, stampLength);
    const version = formatAttendanceVersion(
      createHash("sha256").update("{").update(json.subarray(stampLength)).digest("hex"),
      this.dayOver,
    );
    const stamp = { version, publishedAt };
    // `{"version":…,"publishedAt":…` and the comma that joins it to the body.
    json.write(`${JSON.stringify(stamp).slice(0, -1)},`, 0);
    const countsContent = `${head},"counts":${whole.countsJson},"groups":{${this.#groupCountsJson}}}`;
    const counts = Object.fromEntries(
      COUNT_NAMES.map((name, i) => [name, whole.counts[i]!]),
    ) as unknown as AttendanceCounts;
    return {
      version,
      dayOver: this.dayOver,
      json,
      countsJson: joinObjects(stamp, countsContent),
      counts,
    };
  }

  #quoted(p: number): string {
    return this.#ids.slice(this.#idAt[p]!, this.#idAt[p + 1]!);
  }

  /** Views person p with this row (none: no row), keeps the code and flags' detail, returns the code. */
  #view(p: number, row: DayRow | undefined): number {
    const view = viewPerson(p < this.#active, this.schoolDay, row, this.#rules, this.#viewAtMs);
    const code = STATUS_CODE[view.status] | (view.flags << FLAG_SHIFT);
    this.#codes[p] = code;
    if (view.anomalies > 0) this.#anomalies.set(p, view.anomalies);
    else this.#anomalies.delete(p);
    // Joined (one flat string), not concatenated (a rope of three): kept for every flagged person.
    const detail =
      view.detail === null
        ? undefined
        : [this.#quoted(p), ":", JSON.stringify(view.detail)].join("");
    if (detail !== this.#details.get(p)) {
      if (detail === undefined) this.#details.delete(p);
      else this.#details.set(p, detail);
      this.#detailsJson = null;
    }
    return code;
  }

  /** Calls `f` for each section person p is in, with p's position in its members. */
  #forSections(p: number, f: (s: Section, position: number) => void): void {
    f(this.#whole, p);
    for (let j = this.#groupStart[p]!; j < this.#groupStart[p + 1]!; j++) {
      const s = this.#groups[this.#groupOf[j]!]!;
      f(s, lowerBound(s.members!, p));
    }
  }

  #indexOf(personId: string): number {
    const quoted = JSON.stringify(personId);
    const other = this.#others.get(quoted);
    if (other !== undefined) return other;
    if (this.#lookup !== null) return this.#lookup.get(quoted) ?? -1;
    let lo = 0;
    let hi = this.#active;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#quoted(mid) < quoted) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.#active && this.#quoted(lo) === quoted ? lo : -1;
  }

  /** The section with its dirty blocks serialised again, and its counts' JSON. */
  #fresh(s: Section): Section {
    for (const b of s.dirty) this.#serialiseBlock(s, b);
    s.dirty.clear();
    if (s.countsJson === null)
      s.countsJson = `{${COUNT_NAMES.map((name, i) => `"${name}":${s.counts[i]}`).join(",")}}`;
    return s;
  }

  #serialiseBlock(s: Section, b: number): void {
    const lists: string[][] = [[], [], [], [], [], [], []];
    const end = Math.min(s.size, (b + 1) * BLOCK);
    for (let position = b * BLOCK; position < end; position++) {
      const p = s.members === null ? position : s.members[position]!;
      const code = this.#codes[p]!;
      const q = this.#quoted(p);
      const status = code & 3;
      if (status !== 0) lists[status - 1]!.push(q);
      const flags = code >> FLAG_SHIFT;
      if (flags === 0) continue;
      if (flags & LATE) lists[3]!.push(q);
      if (flags & FEVER) lists[4]!.push(q);
      if (flags & AUTO_CLOSED) lists[5]!.push(q);
      if (flags & ANOMALIES) lists[6]!.push(q);
    }
    for (let k = 0; k < KINDS; k++) s.fragments[b * KINDS + k] = lists[k]!.join(",");
  }

  /** `"id":{…}` of the flagged people, in the order an object built person by person has. */
  #detailsText(): string {
    if (this.#detailsJson === null) {
      let people = [...this.#details.keys()].sort((a, b) => a - b);
      if (this.#indexIds)
        people = objectKeyOrder(people, (p) => JSON.parse(this.#quoted(p)) as string);
      this.#detailsJson = people.map((p) => this.#details.get(p)).join(",");
    }
    return this.#detailsJson;
  }
}

/** A section's lists, `{"inNow":[…],…}`, from its kept fragments (the empty ones left out). */
function pushLists(parts: string[], s: Section): void {
  const blocks = s.fragments.length / KINDS;
  for (let k = 0; k < KINDS; k++) {
    parts.push(k === 0 ? '{"' : '],"', KIND_NAMES[k]!, '":[');
    let first = true;
    for (let b = 0; b < blocks; b++) {
      const f = s.fragments[b * KINDS + k]!;
      if (f === "") continue;
      if (!first) parts.push(",");
      parts.push(f);
      first = false;
    }
  }
  parts.push("]}");
}

/** The first position in an ascending array holding `value` (or where it would go). */
function lowerBound(sorted: Int32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
