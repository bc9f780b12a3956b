import { isUtf8 } from "node:buffer";
import { Readable } from "node:stream";
import { CsvError, parse } from "csv-parse";
import { type Stringifier, stringify } from "csv-stringify";
import type { z } from "zod";
import { AppError } from "../../common/errors.ts";
import { groupsSchema, personIdSchema, personNameSchema } from "./people-schemas.ts";

// The roster file: CSV (RFC 4180, through csv-parse and csv-stringify), UTF-8, a header
// row `id,name,groups`, groups `;`-separated. Reading it splits what is wrong into two
// kinds: a file that cannot be read as a roster at all (not UTF-8, no header, quoting
// that leaves no telling where a row ends) is one 400 `invalid_csv`, and nothing of it is
// imported; a row that can be read but is wrong is an error on its line, and the other
// rows go on. No message repeats a cell's value: a name never reaches an answer or a log.

/** The header row, in this order (matched ignoring case and surrounding spaces). */
export const ROSTER_COLUMNS = ["id", "name", "groups"] as const;
const HEADER = ROSTER_COLUMNS.join(",");
/** Separates the groups of one cell. */
export const GROUP_SEPARATOR = ";";

// The longest row a valid roster holds is ~3,600 characters (an id of 128, a name of 200,
// 50 groups of 64): a record beyond this is a quote left open swallowing the rows after it.
const MAX_RECORD_CHARS = 16_384;
// The body is handed to the parser in slices, so that a large file is parsed between other
// requests' turns rather than in one block of the event loop.
const SLICE_BYTES = 64 * 1024;

/** A row of the file that passed every check. `line` counts the header as line 1. */
export interface RosterRow {
  line: number;
  id: string;
  /** null: the cell was empty (a new person has no name, an existing one keeps theirs). */
  name: string | null;
  groups: string[];
}

/** A row's problem: its line (where the row starts), the column, and what is wrong. */
export interface RowError {
  line: number;
  field: string;
  message: string;
}

export interface ParsedRoster {
  /** The rows to write, in file order. */
  rows: RosterRow[];
  /** Every row problem, in file order. */
  errors: RowError[];
  /** Rows read after the header, good and bad. */
  dataRows: number;
  /** Every valid id the file names, including rows with another error (replace mode keeps them). */
  ids: Set<string>;
}

/** A record's cells, and the line it starts on (the header is line 1). */
type LinedRecord = string[] & { line: number };

const invalidCsv = (message: string, line?: number) =>
  new AppError(400, "invalid_csv", message, line === undefined ? {} : { details: { line } });

/**
 * Reads a roster file. Throws 400 `invalid_csv` for a file that cannot be read as a roster,
 * and 413 `body_too_large` past `maxRows` data rows.
 */
export async function parseRoster(body: Buffer, maxRows: number): Promise<ParsedRoster> {
  if (body.length === 0)
    throw invalidCsv(`the body is empty: a roster starts with the header row ${HEADER}`);
  if (!isUtf8(body)) {
    const line = firstLineNotUtf8(body);
    throw invalidCsv(
      `the file is not UTF-8 text (the first byte that is not is on line ${line}): save it as "CSV UTF-8"`,
      line,
    );
  }
  // Where each record starts: it ends on context.lines, and starts after the previous
  // record and the blank lines skipped in between (a quoted cell may span lines). Kept as
  // the parser goes, so that a parse failure knows the row it failed in.
  let previous = { lines: 0, empty: 0 };
  const parser = parse({
    bom: true,
    relax_column_count: true,
    // A quote inside an unquoted cell (Jo "JJ" Smith) is taken as written.
    relax_quotes: true,
    skip_empty_lines: true,
    max_record_size: MAX_RECORD_CHARS,
    on_record: (record, context) => {
      const line = previous.lines + 1 + (context.empty_lines - previous.empty);
      previous = { lines: context.lines, empty: context.empty_lines };
      return Object.assign(record, { line });
    },
  });
  Readable.from(slices(body)).pipe(parser);

  const roster: ParsedRoster = { rows: [], errors: [], dataRows: 0, ids: new Set() };
  const firstLineOf = new Map<string, number>();
  let header = true;
  try {
    for await (const record of parser as AsyncIterable<LinedRecord>) {
      const { line } = record;
      if (header) {
        checkHeader(record, line);
        header = false;
        continue;
      }
      if (++roster.dataRows > maxRows) {
        parser.destroy();
        throw new AppError(
          413,
          "body_too_large",
          `the roster has more than ${maxRows} rows, the most one import takes (PEOPLE_IMPORT_MAX_ROWS): split it`,
          { details: { maxRows } },
        );
      }
      readRow(record, line, roster, firstLineOf);
    }
  } catch (err) {
    if (err instanceof CsvError) throw unreadable(err, previous);
    throw err;
  }
  if (header) throw invalidCsv(`the file has no header row: its first line must be ${HEADER}`);
  return roster;
}

function checkHeader(record: string[], line: number): void {
  const names = record.map((cell) => cell.trim().toLowerCase());
  if (names[0] !== "id")
    throw invalidCsv(
      `the file has no header row: its first line (line ${line}) must be ${HEADER}`,
      line,
    );
  if (names.join(",") !== HEADER)
    throw invalidCsv(`the header row (line ${line}) must be ${HEADER}, in this order`, line);
}

function readRow(
  record: string[],
  line: number,
  roster: ParsedRoster,
  firstLineOf: Map<string, number>,
): void {
  const errors: RowError[] = [];
  if (record.length !== ROSTER_COLUMNS.length) {
    roster.errors.push({
      line,
      field: "row",
      message: `has ${record.length} cells, the header ${ROSTER_COLUMNS.length} (${HEADER}): quote a cell that holds a comma`,
    });
    return;
  }
  const [idCell, nameCell, groupsCell] = record as [string, string, string];

  const id = personIdSchema.safeParse(idCell);
  if (!id.success) errors.push({ line, field: "id", message: firstMessage(id.error) });
  else {
    const first = firstLineOf.get(id.data);
    if (first !== undefined)
      errors.push({ line, field: "id", message: `repeats the id of line ${first}` });
    else firstLineOf.set(id.data, line);
    roster.ids.add(id.data);
  }

  let name: string | null = null;
  if (nameCell.trim() !== "") {
    const parsed = personNameSchema.safeParse(nameCell);
    if (parsed.success) name = parsed.data;
    else errors.push({ line, field: "name", message: firstMessage(parsed.error) });
  }

  const cells = groupsCell
    .split(GROUP_SEPARATOR)
    .map((g) => g.trim())
    .filter((g) => g !== "");
  const groups = groupsSchema.safeParse(cells);
  if (!groups.success) {
    const issue = groups.error.issues[0]!;
    const item = issue.path[0];
    errors.push({
      line,
      field: "groups",
      message:
        typeof item === "number"
          ? `group ${item + 1} ${issue.message} (groups are separated by "${GROUP_SEPARATOR}")`
          : issue.message,
    });
  }

  if (errors.length > 0 || !id.success || !groups.success) {
    roster.errors.push(...errors);
    return;
  }
  roster.rows.push({ line, id: id.data, name, groups: groups.data });
}

const firstMessage = (error: z.ZodError) => error.issues[0]?.message ?? "is not valid";

/**
 * A parse failure as the admin can act on it, at the line where it is. csv-parse's own
 * messages quote the cell, so they are not passed on.
 */
function unreadable(err: CsvError, previous: { lines: number; empty: number }): AppError {
  const context = err as CsvError & { lines?: number; empty_lines?: number };
  const at = context.lines ?? previous.lines + 1;
  // Where the record being read started (a quote left open runs to the end of the file).
  const start = previous.lines + 1 + ((context.empty_lines ?? previous.empty) - previous.empty);
  switch (err.code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return invalidCsv(
        `a quoted cell opened in the row starting on line ${start} is never closed`,
        start,
      );
    case "CSV_MAX_RECORD_SIZE":
      return invalidCsv(
        `the row starting on line ${start} is longer than ${MAX_RECORD_CHARS} characters: is a quote left open?`,
        start,
      );
    default:
      return invalidCsv(`the file cannot be read as CSV (RFC 4180) at line ${at}`, at);
  }
}

function* slices(body: Buffer): Generator<Buffer> {
  for (let at = 0; at < body.length; at += SLICE_BYTES) yield body.subarray(at, at + SLICE_BYTES);
}

/**
 * The line holding the first byte that is not UTF-8. A line break (0x0A) never occurs
 * inside a UTF-8 sequence, so each line can be checked alone.
 */
function firstLineNotUtf8(body: Buffer): number {
  let line = 1;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    if (!isUtf8(body.subarray(start, end))) return line;
    line++;
    start = end + 1;
  }
  return line;
}

/** A person as a roster row: the name empty when there is none or it is not shown. */
export interface RosterRecord {
  id: string;
  name: string | null;
  groups: string[];
}

/**
 * The CSV writer of an export: the header row, CRLF line ends (RFC 4180), and a byte order
 * mark, without which Excel reads UTF-8 names as Latin-1 (the import skips it).
 */
export function rosterWriter(): Stringifier {
  return stringify({
    bom: true,
    header: true,
    columns: [...ROSTER_COLUMNS],
    record_delimiter: "windows",
  });
}

/** The cells of one row, in the header's order. */
export function rosterRecord(person: RosterRecord): [string, string, string] {
  return [person.id, person.name ?? "", person.groups.join(GROUP_SEPARATOR)];
}
