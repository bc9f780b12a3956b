// Progress of a benchmark goes to stderr, prefixed, so that stdout stays its report.

/** Writes one progress line: "[bench] line". */
export function benchLog(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}
