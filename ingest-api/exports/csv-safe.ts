// The exports' one rule against CSV injection (OWASP "CSV Injection"): a spreadsheet opening
// the file reads a cell that begins with `=`, `+`, `-` or `@` (or a tab or carriage return,
// which some strip before looking) as a formula, so such a text cell gets a leading
// apostrophe, which spreadsheets show as a text marker. Only text cells: a number (a count,
// a temperature of -1.5) is written as it is. Applied in SQL for the files Postgres writes
// (COPY) and in JavaScript for the rows this API computes.

/** The first characters of a cell that a spreadsheet may read as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell, with an apostrophe ahead of a formula's first character. */
export function safeCell(text: string | null): string {
  if (text === null) return "";
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** The same rule as an SQL expression over a text expression (null stays null: an empty cell). */
export function safeSqlText(expression: string): string {
  return `(case when left(${expression}, 1) in ('=', '+', '-', '@', E'\\t', E'\\r') then '''' || ${expression} else ${expression} end)`;
}
