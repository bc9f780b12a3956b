import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { type PublishedResults, resultsKeys } from "../../common/results-contract.ts";

// Published totals in Redis against a direct count over `votes`, per poll. Used by
// `npm run reconcile` and by `npm run verify` (after a simulation). A poll whose results
// are hidden (after_close) publishes no counts, so it is reported, not compared. An
// attendance register (a poll of kind `attendance`) has no vote results by design: it is
// skipped here, counted, and its events are checked as attendance (attendance-reconcile.ts,
// attendance-documents.ts).

export type PollReconciliation =
  | { pollId: string; state: "ok"; total: number; version: string }
  | { pollId: string; state: "unpublished"; total: number }
  | { pollId: string; state: "hidden"; total: number }
  | {
      pollId: string;
      state: "differs";
      total: number;
      version: string;
      asOf: string | null;
      /** One line per option (and the total) whose published count is not the counted one. */
      lines: string[];
    };

export interface Reconciliation {
  polls: PollReconciliation[];
  /** Attendance registers, not compared here: they publish no vote results. */
  registers: number;
  /** Polls that differ, or that are not published while votes are stored. */
  differences: number;
}

/** Compares every poll's published results with `SELECT count(*) … GROUP BY` on `votes`. */
export async function reconcile(
  pool: Pool,
  redis: RedisClient,
  keyPrefix: string,
): Promise<Reconciliation> {
  const registers = (
    await pool.query<{ n: number }>(
      "select count(*)::int as n from polls where kind = 'attendance'",
    )
  ).rows[0]!.n;
  const { rows } = await pool.query<{ poll_id: string; option_id: string | null; n: number }>(`
    select p.id as poll_id, v.option_id, count(v.event_id) as n
    from polls p left join votes v on v.poll_id = p.id
    where p.kind <> 'attendance'
    group by p.id, v.option_id order by p.id, v.option_id`);
  const counted = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const m = counted.get(r.poll_id) ?? new Map<string, number>();
    if (r.option_id !== null) m.set(r.option_id, r.n);
    counted.set(r.poll_id, m);
  }
  const polls: PollReconciliation[] = [];
  let differences = 0;
  for (const [pollId, byOption] of counted) {
    const raw = await redis.get(resultsKeys(keyPrefix, pollId).json);
    const total = [...byOption.values()].reduce((a, b) => a + b, 0);
    if (raw === null) {
      if (total > 0) differences++;
      polls.push({ pollId, state: "unpublished", total });
      continue;
    }
    const published = JSON.parse(raw) as PublishedResults;
    if (published.hidden) {
      polls.push({ pollId, state: "hidden", total });
      continue;
    }
    const ids = new Set([...byOption.keys(), ...published.options.map((o) => o.id)]);
    const lines: string[] = [];
    for (const id of [...ids].sort()) {
      const db = byOption.get(id) ?? 0;
      const pub = published.options.find((o) => o.id === id)?.count ?? 0;
      if (db !== pub)
        lines.push(
          `  ${id}: published ${pub}, counted ${db} (${pub - db > 0 ? "+" : ""}${pub - db})`,
        );
    }
    if (published.totalVotes !== total)
      lines.push(`  total: published ${published.totalVotes}, counted ${total}`);
    if (lines.length > 0) {
      differences++;
      polls.push({
        pollId,
        state: "differs",
        total,
        version: published.version,
        asOf: published.asOf,
        lines,
      });
    } else polls.push({ pollId, state: "ok", total, version: published.version });
  }
  return { polls, registers, differences };
}

/** The report `npm run reconcile` prints: one line (or block) per poll, then a verdict. */
export function formatReconciliation(result: Reconciliation): string {
  const out: string[] = [];
  for (const p of result.polls) {
    switch (p.state) {
      case "unpublished":
        out.push(
          p.total > 0
            ? `${p.pollId}: not published, but ${p.total} votes are stored`
            : `${p.pollId}: not published yet (no votes)`,
        );
        break;
      case "hidden":
        out.push(`${p.pollId}: results hidden until close; ${p.total} votes stored`);
        break;
      case "differs":
        out.push(
          `${p.pollId}: DIFFERS (version ${p.version}, asOf ${p.asOf})\n${p.lines.join("\n")}`,
        );
        break;
      case "ok":
        out.push(`${p.pollId}: ok (${p.total} votes, version ${p.version})`);
        break;
    }
  }
  if (result.registers > 0)
    out.push(
      `${result.registers} attendance register(s) skipped: they publish no vote results (their events are checked as attendance)`,
    );
  out.push(
    result.differences === 0
      ? "all published results agree with votes"
      : `${result.differences} poll(s) differ`,
  );
  return `${out.join("\n")}\n`;
}
