import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { TallyflowError } from "../common/errors.ts";

// One way to read a script's command line. node's parseArgs in strict mode (an unknown
// flag, a flag without its value or an unexpected argument is an error) with -h/--help
// added, and validators for flag values. Whatever a user typed wrong becomes a CliError
// naming the flag; readCli turns it into its message plus the usage on stderr and exit 2,
// and --help into the usage on stdout and exit 0. Parsing and validating throw instead of
// exiting so that tests can call them in-process.

/** The command line is wrong: the message names the flag and what it wants. */
export class CliError extends TallyflowError {
  override readonly name = "CliError";
  override readonly code = "invalid_usage";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("invalid_usage", message, options);
  }
}

const HELP = { help: { type: "boolean", short: "h", default: false } } as const;

export interface CliSpec<O extends ParseArgsOptionsConfig, P extends boolean> {
  /** Printed for --help and after every CliError: the flags, their defaults, the env. */
  usage: string;
  options: O;
  allowPositionals?: P;
}

type CliConfig<O extends ParseArgsOptionsConfig, P extends boolean> = {
  args: string[];
  options: O & typeof HELP;
  allowPositionals: P;
  strict: true;
};

/** What parseArgs returns for the spec: typed values (help included) and positionals. */
export type CliArgs<O extends ParseArgsOptionsConfig, P extends boolean> = ReturnType<
  typeof parseArgs<CliConfig<O, P>>
>;

// node's codes for a command line parseArgs refuses (node:internal/errors).
const PARSE_ERRORS = new Set([
  "ERR_PARSE_ARGS_UNKNOWN_OPTION",
  "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
  "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL",
]);

/** Parses `argv` (without node and the script); throws CliError on what parseArgs refuses. */
export function parseCli<const O extends ParseArgsOptionsConfig, P extends boolean = false>(
  spec: CliSpec<O, P>,
  argv: string[],
): CliArgs<O, P> {
  const config: CliConfig<O, P> = {
    args: argv,
    options: { ...spec.options, ...HELP },
    allowPositionals: spec.allowPositionals ?? (false as P),
    strict: true,
  };
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && PARSE_ERRORS.has(code))
      throw new CliError((err as Error).message, { cause: err });
    throw err;
  }
}

/** Where readCli writes and how it exits (the process by default; a test passes its own). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  exit(code: number): never;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  exit: (code) => process.exit(code),
};

/** What a command line comes to: the settings, or what to print and the exit code. */
export type CliOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; code: 0 | 2; stream: "out" | "err"; text: string };

/**
 * Parses the command line and builds the script's settings with `read`, whose validators
 * (intFlag, durationFlag, …) throw CliError. --help: the usage for stdout, exit 0. A
 * CliError: its message and the usage for stderr, exit 2. Other errors propagate.
 */
export function tryCli<const O extends ParseArgsOptionsConfig, T, P extends boolean = false>(
  spec: CliSpec<O, P>,
  read: (args: CliArgs<O, P>) => T,
  argv: string[],
): CliOutcome<T> {
  const usage = `${spec.usage.trimEnd()}\n`;
  try {
    const args = parseCli(spec, argv);
    // The values' type is generic here; every spec has help (parseCli adds it).
    if ((args.values as { help?: boolean }).help === true)
      return { ok: false, code: 0, stream: "out", text: usage };
    return { ok: true, value: read(args) };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { ok: false, code: 2, stream: "err", text: `${err.message}\n\n${usage}` };
  }
}

/** tryCli on this process's command line: returns the settings, or prints and exits. */
export function readCli<const O extends ParseArgsOptionsConfig, T, P extends boolean = false>(
  spec: CliSpec<O, P>,
  read: (args: CliArgs<O, P>) => T,
  argv: string[] = process.argv.slice(2),
  io: CliIo = processIo,
): T {
  const outcome = tryCli(spec, read, argv);
  if (outcome.ok) return outcome.value;
  io[outcome.stream](outcome.text);
  return io.exit(outcome.code);
}

export interface Range {
  min?: number;
  max?: number;
}

function rangeText(what: string, { min, max }: Range): string {
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
  if (min !== undefined) return `${what} ≥ ${min}`;
  if (max !== undefined) return `${what} ≤ ${max}`;
  return what;
}

function inRange(n: number, { min, max }: Range): boolean {
  return (min === undefined || n >= min) && (max === undefined || n <= max);
}

/** A whole number within the range: "--kiosks must be an integer ≥ 1, got "x"". */
export function intFlag(name: string, text: string, range: Range = {}): number {
  const n = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isInteger(n) || !inRange(n, range))
    throw new CliError(`--${name} must be ${rangeText("an integer", range)}, got "${text}"`);
  return n;
}

/** A finite number within the range; `above` excludes its bound ("a number > 0"). */
export function numberFlag(
  name: string,
  text: string,
  range: Range & { above?: number } = {},
): number {
  const n = text.trim() === "" ? Number.NaN : Number(text);
  const { above } = range;
  const what = above === undefined ? "a number" : `a number > ${above}`;
  if (!Number.isFinite(n) || !inRange(n, range) || (above !== undefined && !(n > above)))
    throw new CliError(`--${name} must be ${rangeText(what, range)}, got "${text}"`);
  return n;
}

const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** "60s", "2m", "1h", "500ms", or plain seconds, in milliseconds; throws CliError. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new CliError(`not a duration: "${text}" (use e.g. 60s, 2m, 500ms)`);
  return Number(m[1]) * DURATION_UNIT_MS[(m[2] ?? "s") as keyof typeof DURATION_UNIT_MS];
}

/** parseDuration naming the flag. 0 means no limit where a script says so. */
export function durationFlag(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    if (err instanceof CliError) throw new CliError(`--${name}: ${err.message}`);
    throw err;
  }
}

/** "5%" → 0.05; a plain number is a percentage too ("2" → 0.02); at most 100 %. */
export function percentFlag(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  if (!m) throw new CliError(`--${name}: not a percentage: "${text}" (use e.g. 5%)`);
  const value = Number(m[1]) / 100;
  if (value > 1) throw new CliError(`--${name}: a percentage must be at most 100%, got "${text}"`);
  return value;
}

/** One of `choices`: "--format must be table or csv, got "xlsx"". */
export function choiceFlag<const C extends string>(
  name: string,
  text: string,
  choices: readonly C[],
): C {
  if ((choices as readonly string[]).includes(text)) return text as C;
  const listed =
    choices.length > 1 ? `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}` : choices[0];
  throw new CliError(`--${name} must be ${listed}, got "${text}"`);
}

/**
 * A comma-separated list, each item read by `item` (which gets the flag's name, so its
 * error names the flag): listFlag("steps", "1000,2000", (n, t) => intFlag(n, t, { min: 1 })).
 */
export function listFlag<T>(
  name: string,
  text: string,
  item: (name: string, text: string) => T,
): T[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === ""))
    throw new CliError(`--${name} wants a comma-separated list without empty items, got "${text}"`);
  return items.map((s) => item(name, s));
}
