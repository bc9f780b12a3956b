import { readFileSync } from "node:fs";
import type { EventLoopGaps } from "./event-loop-gaps.ts";

// What a CPU profile (node --cpu-prof) sampled in each gap of the event loop that
// scripts/bench/event-loop-gaps.ts logged: the samples in a gap and their own frames. A gap
// holding a sample a millisecond is a task of the service (what it ran is named); one of
// 100 ms holding a few samples is the thread not running (a machine busier than its
// cores), whatever the one sample names.
//
// node scripts/bench/cpu-profile-gaps.ts <file.cpuprofile> <event-loop-gaps.json> [min ms=100]

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [profileFile, gapsFile, min = "100"] = process.argv.slice(2);
if (profileFile === undefined || gapsFile === undefined) {
  console.error("usage: cpu-profile-gaps.ts <file.cpuprofile> <event-loop-gaps.json> [min ms]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(profileFile, "utf8")) as Profile;
const { gaps } = JSON.parse(readFileSync(gapsFile, "utf8")) as EventLoopGaps;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*?\/(node_modules|ingest-api|common)\//, "$1/")}:${n.callFrame.lineNumber + 1}`;
/** The deepest frame of the repository's own code on a sample's stack (else its leaf). */
function ownFrame(id: number): string {
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const url = nodes.get(n)!.callFrame.url;
    if (url.startsWith("file://") && !url.includes("node_modules")) return name(nodes.get(n)!);
  }
  return name(nodes.get(id)!);
}
const at: number[] = [];
let t = profile.startTime;
for (const d of profile.timeDeltas) {
  t += d;
  at.push(t);
}
for (const gap of gaps.filter((g) => g.ms >= Number(min))) {
  const from = gap.endUs - gap.ms * 1000;
  const own = new Map<string, number>();
  let samples = 0;
  for (let i = 0; i < at.length; i++) {
    if (at[i]! < from || at[i]! > gap.endUs) continue;
    samples++;
    const f = ownFrame(profile.samples[i]!);
    own.set(f, (own.get(f) ?? 0) + profile.timeDeltas[i]! / 1000);
  }
  const top = [...own]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`)
    .join("; ");
  console.log(`gap of ${gap.ms} ms ending at ${gap.endUs} µs: ${samples} samples; ${top}`);
}
