import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip, createGzip, type Gzip } from "node:zlib";

// What a simulation leaves for `npm run verify`: `<stamp>.json` (what ran, against what,
// the summary) and `<stamp>.eventids.gz` beside it, one eventId per line for every vote
// that got a 202 (accepted or duplicate), each once. Gzipped lines keep a 10-million-vote
// run to about 200 MB and can be streamed straight into COPY.

export interface RunMeta {
  version: 1;
  startedAt: string;
  endedAt: string;
  apiUrls: string[];
  kioskFile: string;
  command: string;
  options: Record<string, unknown>;
  kioskIds: string[];
  pollIds: string[];
  /** File name, in the same folder as the run file. */
  eventIdsFile: string;
  eventIdCount: number;
  /**
   * Votes sent without a 202 ever coming back (5xx after the publish timed out, a network
   * error): JetStream may still have stored them, so verify does not count them as extra.
   */
  uncertainEventIds: string[];
  summary: unknown;
}

/** `2026-11-22T12-04-05-123Z`: sortable and safe in file names. */
export function runStamp(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, "-");
}

export class EventIdWriter {
  readonly path: string;
  readonly #gzip: Gzip;
  readonly #file: WriteStream;
  #buffer: string[] = [];
  #count = 0;

  constructor(path: string) {
    this.path = path;
    this.#gzip = createGzip({ level: 1 });
    this.#file = createWriteStream(path, { mode: 0o600 });
    this.#gzip.pipe(this.#file);
  }

  get count(): number {
    return this.#count;
  }

  add(eventId: string): void {
    this.#buffer.push(eventId);
    this.#count++;
    if (this.#buffer.length >= 4096) this.#flush();
  }

  #flush(): void {
    if (this.#buffer.length === 0) return;
    this.#gzip.write(`${this.#buffer.join("\n")}\n`);
    this.#buffer = [];
  }

  async close(): Promise<void> {
    this.#flush();
    this.#gzip.end();
    await once(this.#file, "close");
  }
}

/** Creates the run folder and the event id file of a new run; `<dir>/<stamp>.json` is written at the end. */
export async function openRun(dir: string, stamp = runStamp()) {
  await mkdir(dir, { recursive: true });
  const metaPath = join(dir, `${stamp}.json`);
  const ids = new EventIdWriter(join(dir, `${stamp}.eventids.gz`));
  return { metaPath, ids };
}

export async function writeRunMeta(path: string, meta: RunMeta): Promise<void> {
  await writeFile(path, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
}

export async function readRunMeta(path: string): Promise<RunMeta> {
  const meta = JSON.parse(await readFile(path, "utf8")) as Partial<RunMeta>;
  if (meta.version !== 1 || typeof meta.eventIdsFile !== "string")
    throw new Error(`${path} is not a simulation run file`);
  return meta as RunMeta;
}

export function eventIdsPath(metaPath: string, meta: RunMeta): string {
  return join(dirname(metaPath), basename(meta.eventIdsFile));
}

/** The run's eventIds, one at a time (streamed: a 10-million-vote run is never in memory). */
export async function* readEventIds(path: string): AsyncGenerator<string> {
  const lines = createInterface({
    input: createReadStream(path).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) if (line !== "") yield line;
}
