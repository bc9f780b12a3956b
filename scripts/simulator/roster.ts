import { stringify } from "csv-stringify/sync";

// The demo rosters: who is in each seeded school, generated from the school's id and the
// person's number alone, so that the seed can import 10,000 people into each of 1,000
// schools and the simulator can name any of them again without either storing ten
// million ids. Person n (1 … count) of a school is `<schoolId>-<n, 6 digits>`; its name
// and classes are drawn from a hash of the same two things, so a second seed sends the
// same rows and its import answers `unchanged`.

/** Digits of a person's number: room for the largest roster the seed makes. */
const PERSON_DIGITS = 6;
export const MAX_ROSTER = 10 ** PERSON_DIGITS - 1;

/** How the ids of a school's people are made (recorded in the kiosk file). */
export interface RosterScheme {
  count: number;
  /** Person n is idPrefix + n zero-padded to `digits`. */
  idPrefix: string;
  digits: number;
}

export function rosterScheme(schoolId: string, count: number): RosterScheme {
  if (!Number.isInteger(count) || count < 0 || count > MAX_ROSTER)
    throw new RangeError(`a roster holds 0 to ${MAX_ROSTER} people, not ${count}`);
  return { count, idPrefix: `${schoolId}-`, digits: PERSON_DIGITS };
}

/** Person n (1-based) of the roster. */
export function personId(scheme: RosterScheme, n: number): string {
  return `${scheme.idPrefix}${String(n).padStart(scheme.digits, "0")}`;
}

/**
 * An id of no one on the roster, for the simulator's deliberately unknown voters: the
 * roster's prefix and a word no person's number has, so a refusal can be told apart from
 * a real person refused.
 */
export function unknownPersonId(scheme: RosterScheme, rand: () => number): string {
  return `${scheme.idPrefix}unknown-${Math.floor(rand() * 2 ** 32).toString(36)}`;
}

export function isUnknownPersonId(voterId: string): boolean {
  return voterId.includes("-unknown-");
}

const FIRST_NAMES = [
  "Amara",
  "Jonas",
  "Priya",
  "Mateo",
  "Aisha",
  "Liam",
  "Sofia",
  "Kenji",
  "Zainab",
  "Noah",
  "Elif",
  "Oscar",
  "Mei",
  "Tomás",
  "Freya",
  "Yusuf",
  "Chloé",
  "Arjun",
  "Ingrid",
  "Kwame",
  "Lucía",
  "Finn",
  "Hana",
  "Omar",
  "Maja",
  "Diego",
  "Leila",
  "Emil",
  "Nia",
  "Santiago",
  "Ava",
  "Ibrahim",
  "Zoe",
  "Rafael",
  "Anika",
  "Theo",
  "Fatima",
  "Hugo",
  "Sakura",
  "Malik",
  "Isla",
  "Dmitri",
  "Ngozi",
  "Lars",
  "Ayesha",
  "Jamal",
  "Olivia",
  "Chen",
];
const LAST_NAMES = [
  "Okafor",
  "Berg",
  "Nair",
  "García",
  "Khan",
  "Murphy",
  "Rossi",
  "Tanaka",
  "Mensah",
  "Smith",
  "Yılmaz",
  "Andersson",
  "Wang",
  "Silva",
  "Hansen",
  "Haddad",
  "Dubois",
  "Patel",
  "Larsen",
  "Boateng",
  "Fernández",
  "O'Brien",
  "Kim",
  "Rahman",
  "Nowak",
  "Torres",
  "Hosseini",
  "Schmidt",
  "Adeyemi",
  "Costa",
  "Johnson",
  "Mahmoud",
  "Müller",
  "Santos",
  "Ivanova",
  "Brown",
  "Ali",
  "Lefèvre",
  "Suzuki",
  "Diallo",
  "MacLeod",
  "Petrov",
  "Eze",
  "Lindqvist",
  "Chowdhury",
  "Jackson",
  "Williams",
  "Zhang",
];
/** Year groups and classes of a secondary school; the last 4 % of a roster are staff. */
const YEARS = [7, 8, 9, 10, 11];
const CLASSES = ["A", "B", "C", "D"];
const STAFF_SHARE = 0.04;

/** 32-bit FNV-1a of the school id, then mixed with n (murmur3's finaliser). */
function hashOf(schoolId: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < schoolId.length; i++) h = Math.imul(h ^ schoolId.charCodeAt(i), 0x01000193);
  h ^= Math.imul(n, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Person n's row: [id, name, groups (;-separated)]. */
export function personRow(schoolId: string, scheme: RosterScheme, n: number): string[] {
  const h = hashOf(schoolId, n);
  const first = FIRST_NAMES[h % FIRST_NAMES.length]!;
  const last = LAST_NAMES[Math.floor(h / FIRST_NAMES.length) % LAST_NAMES.length]!;
  const staffFrom = scheme.count - Math.floor(scheme.count * STAFF_SHARE);
  let groups: string;
  if (n > staffFrom) groups = "staff";
  else {
    // Pupils fill the years in order of their number, a class each by the hash.
    const year =
      YEARS[Math.min(YEARS.length - 1, Math.floor(((n - 1) * YEARS.length) / staffFrom))]!;
    const cls = CLASSES[(h >>> 24) % CLASSES.length]!;
    groups = `Y${year};${year}${cls}`;
  }
  return [personId(scheme, n), `${first} ${last}`, groups];
}

/**
 * The roster as CSV bodies of at most `maxBytes` each (header `id,name,groups` on every
 * one), people 1 … count in order. Split at record ends: a generated name has no line break.
 */
export function rosterCsvChunks(
  schoolId: string,
  scheme: RosterScheme,
  maxBytes: number,
): string[] {
  const rows: string[][] = [];
  for (let n = 1; n <= scheme.count; n++) rows.push(personRow(schoolId, scheme, n));
  const header = "id,name,groups\n";
  const records = stringify(rows, { record_delimiter: "unix" });
  const chunks: string[] = [];
  let start = 0;
  const budget = Math.max(1, maxBytes - Buffer.byteLength(header));
  while (start < records.length) {
    // A character is at most 3 UTF-8 bytes here (the names are in the BMP): a window of
    // budget / 3 characters always fits, and most of the time far more does.
    let end = Math.min(records.length, start + budget);
    while (end < records.length && Buffer.byteLength(records.slice(start, end)) > budget)
      end = start + Math.floor((end - start) * 0.9);
    if (end < records.length) {
      const cut = records.lastIndexOf("\n", end - 1);
      if (cut < start) throw new RangeError(`a roster row is larger than ${maxBytes} bytes`);
      end = cut + 1;
    }
    chunks.push(header + records.slice(start, end));
    start = end;
  }
  return chunks;
}
