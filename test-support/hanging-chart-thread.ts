import { parentPort } from "node:worker_threads";
import { renderResultsPng } from "../result-publisher/chart.ts";
import type { RenderReply, RenderRequest } from "../result-publisher/chart-thread.ts";

// A chart thread (ChartWorker's threadUrl) that never answers for a poll titled "Hang": it
// spins for ever, as a draw stuck in a loop or a native call that never returns would.
// Any other poll is drawn as chart-thread.ts draws it.

const port = parentPort;
if (port === null) throw new Error("hanging-chart-thread.ts runs as a worker thread only");
port.on("message", async (req: RenderRequest) => {
  if (req.results.title === "Hang") for (;;);
  const png = await renderResultsPng(req.results, req.width, req.height);
  const reply: RenderReply = {
    id: req.id,
    ok: true,
    png: new Uint8Array(png.buffer, png.byteOffset, png.length),
  };
  port.postMessage(reply);
});
