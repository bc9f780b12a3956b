import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../../harness/repo-root.ts";

// Summarises a V8 .cpuprofile (written by `node --cpu-prof`) into self time per function
// and per package, which is what tells where an event loop spends its CPU.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  /** Share of the process's busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  topFunctions: SelfTime[];
  byPackage: SelfTime[];
}

const IDLE = new Set(["(idle)"]);
// Our own files appear as file:// URLs under the repository root.
const REPO_URL = `${pathToFileURL(REPO_ROOT).href}/`;

export async function summarizeCpuProfile(file: string, top = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attributing it to sample i is how
  // Chrome DevTools computes self time.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (IDLE.has(frame.functionName)) continue;
    busyUs += us;
    const fn = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}${
      frame.url ? `:${frame.lineNumber + 1}` : ""
    }`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pkg = packageOf(frame.url, frame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const rank = (m: Map<string, number>, n: number): SelfTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (us / busyUs) * 100 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busyUs / 1000,
    topFunctions: rank(byFunction, top),
    byPackage: rank(byPackage, 20),
  };
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) return url.slice(nm + "node_modules/".length);
  return url.startsWith(REPO_URL) ? url.slice(REPO_URL.length) : url.replace(/^file:\/\//, "");
}

/** A bucket a maintainer can act on: an npm package, our own code, Node core, or V8. */
function packageOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? `V8 ${functionName}` : "V8/native";
  if (url.startsWith("node:")) return `node core (${url.slice(5).split("/")[0]})`;
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const parts = url.slice(nm + "node_modules/".length).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith(REPO_URL)) return `tallyflow ${url.slice(REPO_URL.length).split("/")[0]}/`;
  return url;
}
