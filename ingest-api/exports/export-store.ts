import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { Pool } from "../../common/postgres.ts";
import { safeSqlText } from "./csv-safe.ts";

/** COPY takes no parameters: the poll id (an idSchema id already) as an SQL literal. */
const escapeLiteral = (text: string) => pg.escapeLiteral(text);

// The exports' reads, each file one query and one snapshot however long the download takes,
// never whole in memory. A poll's files are written by Postgres (COPY … CSV, streamed as
// bytes: 200,000 votes cost no row objects here) from the two functions of migration 034
// (the API's role reads neither `votes` nor `vote_rollups` itself); a school's person-days,
// which the API views with the school's rules, through a cursor, FETCH by FETCH.

/** Rows per FETCH: large enough that round trips cost little, small enough to hold. */
export const FETCH_ROWS = 2_000;

/** Instants as UTC ISO text, as the API's JSON answers have them. */
const iso = (column: string) =>
  `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The rows of one query, fetched `fetchRows` at a time in one read-only transaction. A
 * consumer that stops early (the client went away: the stream is destroyed and the generator
 * returned) ends the transaction and gives the connection back in `finally`, between two
 * FETCHes: no query is left running.
 */
export async function* cursorRows<Row>(
  pool: Pool,
  sql: string,
  params: unknown[],
  fetchRows = FETCH_ROWS,
): AsyncGenerator<Row[]> {
  const client = await pool.connect();
  try {
    await client.query("begin isolation level repeatable read read only");
    await client.query(`declare export_rows no scroll cursor for ${sql}`, params);
    for (;;) {
      const { rows } = await client.query(`fetch forward ${fetchRows} from export_rows`);
      if (rows.length > 0) yield rows as Row[];
      if (rows.length < fetchRows) return;
    }
  } finally {
    // Rolled back however it ended (the transaction only read); a connection that cannot
    // even do that is dropped from the pool.
    await client.query("rollback").then(
      () => client.release(),
      (err: unknown) => client.release(err instanceof Error ? err : new Error(String(err))),
    );
  }
}

/**
 * `COPY (query) TO STDOUT` as CSV with a header row, piped to `out` with backpressure (the
 * connection's socket is paused while the client is slow: Postgres waits, nothing piles up
 * here). The COPY holds one pool connection for the download, at most `maxMs`.
 *
 * A COPY cannot be stopped on the wire, so a download that does not end well (the client
 * went away, `maxMs` passed, Postgres failed) drops its connection from the pool (release
 * with an error: node-pg destroys the socket of a client with a query running); the backend
 * stops at its next write. Resolves once the file was handed to `out` whole.
 */
export async function copyCsv(
  pool: Pool,
  query: string,
  out: Writable,
  maxMs: number,
): Promise<void> {
  const client = await pool.connect();
  // node-pg times a submitted query with its query_timeout (PG_QUERY_TIMEOUT_MS) from start
  // to end; a download paced by its client gets the export's own deadline instead.
  const source = Object.assign(copyTo(`copy (${query}) to stdout with (format csv, header)`), {
    query_timeout: maxMs,
  });
  client.query(source);
  let failure: Error | undefined;
  try {
    await pipeline(source, out);
  } catch (err) {
    failure = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    // node-pg arms that timer and clears it only through the query's callback, which
    // pg-copy-streams never calls: cleared here, and a late report of it heard.
    (source as unknown as { callback?: (err?: Error) => void }).callback?.();
    source.on("error", () => {});
    client.release(failure);
  }
}

/** The poll's results as the CSV of migration 034's export_poll_results. */
export function resultsQuery(pollId: string, byBucket: boolean): string {
  const id = escapeLiteral(pollId);
  return byBucket
    ? `select ${iso("bucket_start")} as bucket_start, ${safeSqlText("option_id")} as option_id,
         ${safeSqlText("option_label")} as option_label, votes
       from export_poll_results(${id}, true)`
    : `select ${safeSqlText("option_id")} as option_id, ${safeSqlText("option_label")} as option_label, votes
       from export_poll_results(${id}, false)`;
}

/**
 * The poll's stored votes in cast order, a vote's option label from the registry; its voter
 * id only `withVoters` (the column is there, empty, otherwise).
 */
export function votesQuery(pollId: string, withVoters: boolean): string {
  const id = escapeLiteral(pollId);
  return `select v.event_id, ${safeSqlText("v.option_id")} as option_id,
       ${safeSqlText("o.label")} as option_label, ${iso("v.cast_at")} as cast_at,
       ${iso("v.received_at")} as received_at, ${safeSqlText("v.kiosk_id")} as kiosk_id,
       ${withVoters ? safeSqlText("v.voter_id") : "null::text"} as voter_id, v.temperature_c
     from export_poll_votes(${id}) with ordinality as v
     left join poll_options o on o.poll_id = ${id} and o.id = v.option_id
     order by v.ordinality`;
}

/** A stored person-day with the person's name (none for an erased person's pseudonym). */
export interface PersonDayRow {
  day: string;
  person_id: string;
  name: string | null;
  closed_seconds: number;
  first_in: number | null;
  last_out: number | null;
  open_since: number | null;
  max_temperature_c: number | null;
  outs_without_in: number;
  double_ins: number;
  double_outs: number;
  events: number;
}

/** A school's stored person-days from `from` to `to`, by day then person. */
export function schoolPersonDays(pool: Pool, schoolId: string, from: string, to: string) {
  return cursorRows<PersonDayRow>(
    pool,
    `select d.day::text as day, d.person_id, p.name, d.closed_seconds,
       (extract(epoch from d.first_in) * 1000)::float8 as first_in,
       (extract(epoch from d.last_out) * 1000)::float8 as last_out,
       (extract(epoch from d.open_since) * 1000)::float8 as open_since,
       d.max_temperature_c::float8 as max_temperature_c,
       d.outs_without_in, d.double_ins, d.double_outs, d.events
     from attendance_days d
     left join people p on p.school_id = d.school_id and p.id = d.person_id
     where d.school_id = $1 and d.day >= $2::date and d.day <= $3::date
     order by d.day, d.person_id`,
    [schoolId, from, to],
  );
}
