// temporary profiling hook (not committed)
const acc = new Map<string, number>();
let on = !!process.env.ATTPERF_TRACE;
export function tr<T>(label: string, p: Promise<T>): Promise<T> {
  if (!on) return p;
  const t = performance.now();
  return p.finally(() => acc.set(label, (acc.get(label) ?? 0) + performance.now() - t));
}
if (on) process.on("exit", () => { console.error("ATTPERF", JSON.stringify(Object.fromEntries([...acc].map(([k, v]) => [k, Math.round(v)])))); });
