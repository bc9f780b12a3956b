// Reads `COPY (select school_id, lookup_key from people … order by school_id) TO STDOUT
// (FORMAT binary)` chunk by chunk, as it streams: 10 million rows become one run of keys
// per school in a reused typed array, never a JavaScript object per row (a plain query
// would hold every row, and pg parses bigint as a number, losing the low bits). The school
// id's bytes are compared with the current school's and decoded only when they change.
//
// The binary format (PostgreSQL's COPY docs): an 11-byte signature, a 32-bit flags field
// and a 32-bit header-extension length (with that many bytes); then per row a 16-bit field
// count and, per field, a 32-bit length (-1: NULL) and its bytes; a field count of -1 ends.
// A bigint is 8 bytes big-endian: the key's high and low 32-bit halves as they are.

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER_BYTES = SIGNATURE.length + 8;

/** One school's keys: `count` [high, low] pairs at the start of `pairs` (reused after the call). */
export type SchoolKeys = (schoolId: string, pairs: Uint32Array, count: number) => void;

export class SchoolKeysReader {
  readonly #onSchool: SchoolKeys;
  /** Bytes of a row cut by a chunk boundary, read again in front of the next chunk. */
  #rest: Buffer | undefined;
  #headerRead = false;
  #ended = false;
  #school: Buffer | undefined;
  #pairs = new Uint32Array(2 * 4_096);
  #count = 0;
  readonly #seen = new Set<string>();
  rows = 0;

  constructor(onSchool: SchoolKeys) {
    this.#onSchool = onSchool;
  }

  push(chunk: Buffer): void {
    if (this.#ended) {
      if (chunk.length > 0) throw new Error("COPY data after its trailer");
      return;
    }
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let pos = 0;
    if (!this.#headerRead) {
      const signed = Math.min(buf.length, SIGNATURE.length);
      if (buf.compare(SIGNATURE, 0, signed, 0, signed) !== 0)
        throw new Error("not a binary COPY stream (no PGCOPY signature)");
      if (buf.length < HEADER_BYTES) {
        this.#rest = buf;
        return;
      }
      const extension = buf.readUInt32BE(SIGNATURE.length + 4);
      if (buf.length < HEADER_BYTES + extension) {
        this.#rest = buf;
        return;
      }
      pos = HEADER_BYTES + extension;
      this.#headerRead = true;
    }
    const end = buf.length;
    while (pos + 2 <= end) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        this.#ended = true;
        if (pos + 2 !== end) throw new Error("COPY data after its trailer");
        this.#flush();
        return;
      }
      if (fields !== 2)
        throw new Error(`expected 2 fields a row (school_id, lookup_key), got ${fields}`);
      if (pos + 6 > end) break;
      const idLength = buf.readInt32BE(pos + 2);
      if (idLength < 1) throw new Error("a row without a school id");
      const idStart = pos + 6;
      const keyStart = idStart + idLength + 4;
      if (keyStart + 8 > end) break;
      if (buf.readInt32BE(idStart + idLength) !== 8) throw new Error("lookup_key is not 8 bytes");
      const school = this.#school;
      if (
        school === undefined ||
        school.length !== idLength ||
        buf.compare(school, 0, idLength, idStart, idStart + idLength) !== 0
      )
        this.#startSchool(buf, idStart, idLength);
      this.#add(buf.readUInt32BE(keyStart), buf.readUInt32BE(keyStart + 4));
      this.rows++;
      pos = keyStart + 8;
    }
    // The cut row is copied: keeping a view would pin the whole chunk until the next one.
    if (pos < end) this.#rest = Buffer.from(buf.subarray(pos));
  }

  /** After the last chunk: fails unless the stream ended with its trailer. */
  end(): void {
    if (!this.#ended) throw new Error("the COPY stream ended before its trailer");
  }

  #startSchool(buf: Buffer, start: number, length: number): void {
    this.#flush();
    const id = Buffer.from(buf.subarray(start, start + length));
    const text = id.toString("utf8");
    // Runs are per school only if the rows come ordered by it: a school seen twice would
    // replace its first run with its second.
    if (this.#seen.has(text))
      throw new Error(`school "${text}" seen twice: rows not ordered by school`);
    this.#seen.add(text);
    this.#school = id;
  }

  #add(high: number, low: number): void {
    if (2 * this.#count === this.#pairs.length) {
      const larger = new Uint32Array(this.#pairs.length * 2);
      larger.set(this.#pairs);
      this.#pairs = larger;
    }
    this.#pairs[2 * this.#count] = high;
    this.#pairs[2 * this.#count + 1] = low;
    this.#count++;
  }

  #flush(): void {
    if (this.#school !== undefined)
      this.#onSchool(this.#school.toString("utf8"), this.#pairs, this.#count);
    this.#school = undefined;
    this.#count = 0;
  }
}
