import { bucketStartSql } from "../../common/rollup-buckets.ts";

// A year of votes for bench:history, generated inside Postgres one month at a time: the
// reference day (bench:publisher-memory's and `npm run bench`'s: the day's votes in two
// one-hour peaks, 08:00 and 15:00 UTC, which fill the 10-minute buckets of those hours and
// leave the rest empty) at the mix of bench:reports (polls, options and kiosks of uneven
// popularity, check-in polls with voter ids, 0.1 % of votes arriving hours late), each row
// with a UUIDv7 event id carrying its cast time, so that Postgres routes it to its month's
// partition (migration 033) as it routes a kiosk's vote.

export const DAY_MS = 86_400_000;
/** The reference day's peaks: the UTC hours whose votes fill the day, half each. */
export const PEAK_HOURS = [8, 15] as const;

export interface HistoryMix {
  polls: number;
  optionsPerPoll: number;
  kiosks: number;
  /** The last polls are check-ins: their votes carry one of `voters` voter ids. */
  checkinPolls: number;
  voters: number;
}

/** bench:reports' mix, so that its report cases (poll-01, poll-02, the last poll) apply. */
export const REFERENCE_MIX: HistoryMix = {
  polls: 20,
  optionsPerPoll: 5,
  kiosks: 2_000,
  checkinPolls: 2,
  voters: 20_000,
};

/**
 * A UUIDv7 (RFC 9562) as a SQL expression: the 48-bit Unix milliseconds of `at` (a
 * timestamptz expression), the version 7, 12 bits from a hash of `n`, the variant 10, and
 * `n` itself (a bigint expression, 0 ≤ n < 2^60) as the last 60 bits, which makes the ids of
 * distinct `n` distinct whatever their time. event_id_time() reads `at` back (to the ms).
 */
export function uuidV7Sql(at: string, n: string): string {
  return `(lpad(to_hex(floor(extract(epoch from ${at}) * 1000)::bigint), 12, '0') || '7'
    || lpad(to_hex(hashint8extended(${n}, 11) & 4095), 3, '0') || '8'
    || lpad(to_hex(${n}), 15, '0'))::uuid`;
}

/** The first instants (UTC) of the `months` whole months before the month of `nowMs`. */
export function historyMonths(months: number, nowMs: number): Date[] {
  const now = new Date(nowMs);
  return Array.from(
    { length: months },
    (_, i) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months + i, 1)),
  );
}

/** The days of the month starting at `start`. */
export const daysIn = (start: Date) =>
  (Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1) - start.getTime()) / DAY_MS;

/** `rows` split over the months in proportion to their days (the same votes every day). */
export function rowsPerMonth(rows: number, months: readonly Date[]): number[] {
  const days = months.map(daysIn);
  const total = days.reduce((a, b) => a + b, 0);
  let given = 0;
  let daysSoFar = 0;
  return days.map((d) => {
    daysSoFar += d;
    const upTo = Math.round((rows * daysSoFar) / total);
    const n = upTo - given;
    given = upTo;
    return n;
  });
}

// A uniform number in [0, 1) from the row number and a salt: deterministic, no state.
const rand = (salt: number) => `((hashint8extended(g, ${salt}) & 1048575)::float8 / 1048576)`;

/**
 * Rows $1..$2 (global row numbers, the last 60 bits of their ids) of a month starting at $3
 * ($4 days) whose rows are $10..$10 + $11 - 1, into `table`: in cast order, each day's
 * share in the two peak hours. The other parameters: the mix's polls ($5), options ($6),
 * kiosks ($7), check-in polls ($8), voters ($9). A month loads in chunks of one statement.
 */
export const insertVotesSql = (table: string) => `
  insert into ${table} (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                        stored_at, stream_seq)
  select ${uuidV7Sql("cast_at", "g")}, 'poll-' || lpad(poll::text, 2, '0'),
         'opt-' || (1 + floor(${rand(2)} ^ 1.6 * $6)::int),
         'kiosk-' || (1 + floor(${rand(3)} ^ 1.3 * $7)::int),
         case when poll > $5 - $8 then 'voter-' || floor(${rand(4)} * $9)::int end,
         cast_at, cast_at + delay, cast_at + delay + make_interval(secs => 0.05 + ${rand(7)}), g
  from (
    select g, 1 + floor(${rand(1)} * $5)::int as poll,
           $3::timestamptz + make_interval(days => day::int)
             + make_interval(secs => case when within < 0.5 then ${PEAK_HOURS[0]} * 3600 + within * 7200
                                          else ${PEAK_HOURS[1]} * 3600 + (within - 0.5) * 7200 end) as cast_at,
           case when ${rand(6)} < 0.001 then make_interval(secs => ${rand(8)} * 21600)
                else make_interval(secs => ${rand(8)} * 0.8) end as delay
    from (
      select g, floor(f) as day, f - floor(f) as within
      from (select g, (g - $10)::float8 * $4 / $11 as f
            from generate_series($1::bigint, $2::bigint) g) x
    ) y
  ) v`;

/** The parameters of insertVotesSql for rows first..last of a month. */
export function insertVotesParams(
  chunk: { first: number; last: number },
  month: { start: Date; firstRow: number; rows: number },
  mix: HistoryMix,
): unknown[] {
  return [
    chunk.first,
    chunk.last,
    month.start,
    daysIn(month.start),
    mix.polls,
    mix.optionsPerPoll,
    mix.kiosks,
    mix.checkinPolls,
    mix.voters,
    month.firstRow,
    month.rows,
  ];
}

/** The rollups of one partition's votes, added to those already there (the writer's). */
export const rollupsOfPartitionSql = (partition: string) => `
  insert into vote_rollups as r (poll_id, option_id, bucket_start, count)
  select poll_id, option_id, ${bucketStartSql("cast_at")}, count(*)
  from ${partition} group by 1, 2, 3
  on conflict (poll_id, option_id, bucket_start) do update set count = r.count + excluded.count`;

/** The partition name migration 033 gives the month starting at `start`. */
export const partitionOf = (start: Date) =>
  `votes_p${start.getUTCFullYear()}_${String(start.getUTCMonth() + 1).padStart(2, "0")}`;

/** Least-squares line through the points: y = intercept + slope · x. */
export function fitLine(
  xs: readonly number[],
  ys: readonly number[],
): { intercept: number; slope: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  const slope = den === 0 ? 0 : num / den;
  return { intercept: my - slope * mx, slope };
}
