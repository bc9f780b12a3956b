import { setTimeout as sleep } from "node:timers/promises";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { gunzipSync } from "node:zlib";
import { Pool as HttpPool } from "undici";

// bench:attendance's reads of the attendance API, timed on a thread of their own: on the
// bench's main thread the timings also held the sender's and the freshness watcher's turns
// of the event loop (a 1,500 events/s sender and whole documents parsed on each
// announcement), which are the bench's, not the API's. The reads alternate the whole
// school's day document and a week page of 100, `reads` a second over the targets; only
// answers during the peaks are kept (the main thread says when).

export interface ApiReadsOptions {
  apiUrl: string;
  headers: Record<string, string>;
  targets: { schoolId: string; day: string }[];
  reads: number;
}

export interface ApiReadsResult {
  /** Milliseconds of each 200 answered while timing: the day document's, the page's. */
  ms: { day: number[]; page: number[] };
  /** Answers by kind and status, all of them. */
  status: Record<string, number>;
}

interface Timing {
  timing: boolean;
}

/** Starts the reads; `timing(on)` says whether answers count; `stop()` resolves to all counted. */
export function startApiReads(options: ApiReadsOptions): {
  timing(on: boolean): void;
  stop(): Promise<ApiReadsResult>;
} {
  const worker = new Worker(new URL(import.meta.url), { workerData: options });
  const result = new Promise<ApiReadsResult>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    timing: (on) => worker.postMessage({ timing: on } satisfies Timing),
    stop: async () => {
      worker.postMessage("stop");
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const o = workerData as ApiReadsOptions;
  let timing = false;
  let reading = true;
  port.on("message", (m: Timing | "stop") => {
    if (m === "stop") reading = false;
    else timing = m.timing;
  });
  const ms: ApiReadsResult["ms"] = { day: [], page: [] };
  const status: Record<string, number> = {};
  const http = new HttpPool(o.apiUrl, { connections: 2 });
  const t0 = performance.now();
  for (let i = 0; reading; i++) {
    const wait = t0 + (i * 1000) / o.reads - performance.now();
    if (wait > 0) await sleep(wait);
    const { schoolId, day } = o.targets[i % o.targets.length]!;
    const kind = i % 2 === 0 ? "day" : "page";
    const path =
      kind === "day"
        ? `/v1/schools/${schoolId}/attendance?date=${day}`
        : `/v1/schools/${schoolId}/attendance?period=week&date=${day}&limit=100`;
    const a = performance.now();
    // As a browser or fetch reads it: gzip accepted, the body inflated within the timing.
    const res = await http.request({
      method: "GET",
      path,
      headers: { ...o.headers, "accept-encoding": "gzip" },
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.headers["content-encoding"] === "gzip") gunzipSync(body);
    const took = performance.now() - a;
    status[`${kind} ${res.statusCode}`] = (status[`${kind} ${res.statusCode}`] ?? 0) + 1;
    if (res.statusCode === 200 && timing) ms[kind].push(took);
  }
  await http.close();
  port.postMessage({ ms, status } satisfies ApiReadsResult);
}
