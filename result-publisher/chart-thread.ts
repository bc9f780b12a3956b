import { parentPort } from "node:worker_threads";
import type { PublishedResults } from "../common/results-contract.ts";
import { renderResultsPng } from "./chart.ts";

// The body of a chart worker thread (ChartWorker): draws one published document at a time,
// so that Chart.js and the PNG encode (50–200 ms each) never hold the publisher's event loop.

export interface RenderRequest {
  id: number;
  results: PublishedResults;
  width: number;
  height: number;
}

export type RenderReply =
  | { id: number; ok: true; png: Uint8Array }
  | { id: number; ok: false; message: string };

const port = parentPort;
if (port === null) throw new Error("chart-thread.ts runs as a worker thread only");
port.on("message", async (req: RenderRequest) => {
  let reply: RenderReply;
  try {
    const png = await renderResultsPng(req.results, req.width, req.height);
    reply = { id: req.id, ok: true, png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
  } catch (err) {
    reply = { id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
