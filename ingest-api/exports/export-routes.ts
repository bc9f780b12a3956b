import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { stringify } from "csv-stringify";
import { type Request, type Response, Router } from "express";
import type { z } from "zod";
import { viewDay } from "../../common/attendance/person-day.ts";
import { dayRules } from "../../common/attendance/school-day.ts";
import { NotFoundError, ValidationError } from "../../common/errors.ts";
import type { Pool } from "../../common/postgres.ts";
import { idSchema, toFieldIssues } from "../../common/vote.ts";
import { countedDays, readableSchool } from "../attendance/attendance-period.ts";
import { actsFor, requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { AttendanceReadsConfig } from "../config.ts";
import { auditExport } from "../console/audit-recorder.ts";
import { seesNames } from "../people/people-service.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { safeCell } from "./csv-safe.ts";
import {
  ATTENDANCE_COLUMNS,
  attendanceExportQuerySchema,
  resultsQuerySchema,
} from "./export-schemas.ts";
import { copyCsv, resultsQuery, schoolPersonDays, votesQuery } from "./export-store.ts";

export interface ExportRouteDeps {
  pool: Pool;
  /** Polls and schools (their school, their rules) and school admins' tokens. */
  cache: RegistryCache;
  adminToken: string;
  /** Epoch milliseconds: a day still open is viewed at this instant. */
  now: () => number;
  limits: Pick<AttendanceReadsConfig, "personRangeMaxDays">;
  /** Longest an export may stream (EXPORT_MAX_MS). */
  maxMs: number;
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}

function idParam(req: Request, name: "pollId" | "schoolId"): string {
  const result = idSchema.safeParse(req.params[name]);
  if (!result.success)
    throw new ValidationError([
      { field: name, message: `is not a valid ${name === "pollId" ? "poll" : "school"} id` },
    ]);
  return result.data;
}

/** The poll an admin may export: its school's admin's or the deployment admin's; else 404. */
function exportablePoll(req: Request, cache: RegistryCache) {
  const id = idParam(req, "pollId");
  const poll = cache.poll(id);
  if (poll === undefined || !actsFor(requestScope(req), poll.schoolId))
    throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
  return poll;
}

/**
 * The answer's headers: a CSV file to save, never kept by a cache (personal data). True when
 * that is the whole answer: a HEAD (Express answers it with the GET route) reads nothing,
 * and is no export. A download still going after `maxMs` is cut (a stalled client would
 * hold its Postgres connection for ever): its read ends as when the client goes away.
 */
function attachment(req: Request, res: Response, filename: string, maxMs: number): boolean {
  res
    .status(200)
    .setHeader("Cache-Control", "no-store")
    .type("text/csv; charset=utf-8")
    .setHeader("Content-Disposition", `attachment; filename="${filename}"`);
  if (req.method === "HEAD") {
    res.end();
    return true;
  }
  const deadline = setTimeout(() => res.destroy(), maxMs);
  res.once("close", () => clearTimeout(deadline));
  return false;
}

/**
 * A download's end: a client that went away is nothing to answer and nothing wrong here
 * (the audit entry says the file was not sent whole). Any other failure midway has cut the
 * connection (the pipeline destroys the response), so that no client keeps a
 * complete-looking file, and is reported.
 */
async function untilGone(download: Promise<void>): Promise<void> {
  try {
    await download;
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_STREAM_PREMATURE_CLOSE") return;
    throw err;
  }
}

/** Sends `records` as CSV, pulled page by page as the client reads (backpressure). */
function sendCsv(res: Response, columns: readonly string[], records: AsyncIterable<unknown[]>) {
  return untilGone(
    pipeline(Readable.from(records), stringify({ header: true, columns: [...columns] }), res),
  );
}

/** Rows of pages, one at a time. */
async function* flat<T, R>(pages: AsyncIterable<T[]>, map: (row: T) => R): AsyncGenerator<R> {
  for await (const page of pages) for (const row of page) yield map(row);
}

const iso = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());

/**
 * The CSV exports (docs/console.md, "Exports"): a poll's results and its raw votes, a
 * school's person-days. Readable while a poll is live (a snapshot of what is stored when the
 * download starts), by the deployment admin and the school's own admin (another school's
 * poll or school: 404), by bearer token or console session. Every text cell is CSV-injection
 * safe (csv-safe.ts); each export is recorded in the audit log (auditExport).
 */
export function exportRoutes(deps: ExportRouteDeps) {
  const { pool, cache } = deps;
  const router = Router();
  const admin = requireAdmin(deps.adminToken, cache);
  const rangeSchema = attendanceExportQuerySchema(deps.limits.personRangeMaxDays);

  router.get("/v1/polls/:pollId/results.csv", admin, async (req, res) => {
    const poll = exportablePoll(req, cache);
    const by = parse(resultsQuerySchema, req.query).by ?? "option";
    const byBucket = by === "bucket";
    if (attachment(req, res, `${poll.id}-results${byBucket ? "-by-bucket" : ""}.csv`, deps.maxMs))
      return;
    auditExport(res, { export: "results", by });
    await untilGone(copyCsv(pool, resultsQuery(poll.id, byBucket), res, deps.maxMs));
  });

  router.get("/v1/polls/:pollId/votes.csv", admin, async (req, res) => {
    const poll = exportablePoll(req, cache);
    // Voter ids are the school's people's ids (a roster poll's): its own admin's to read,
    // like their names (seesNames); the deployment admin's column is empty.
    const voters = seesNames(requestScope(req), poll.schoolId);
    if (attachment(req, res, `${poll.id}-votes.csv`, deps.maxMs)) return;
    auditExport(res, { export: "votes", voterIds: voters });
    await untilGone(copyCsv(pool, votesQuery(poll.id, voters), res, deps.maxMs));
  });

  router.get("/v1/schools/:schoolId/attendance.csv", admin, async (req, res) => {
    const scope = requestScope(req);
    const school = readableSchool(cache, idParam(req, "schoolId"), scope);
    const { from, to } = parse(rangeSchema, req.query);
    const names = seesNames(scope, school.id);
    const nowMs = deps.now();
    const counted = await countedDays(pool, school, from, to, nowMs);
    if (attachment(req, res, `${school.id}-attendance-${from}-${to}.csv`, deps.maxMs)) return;
    auditExport(res, { export: "attendance", from, to, names });
    await sendCsv(
      res,
      ATTENDANCE_COLUMNS,
      flat(schoolPersonDays(pool, school.id, from, to), (d) => {
        const counts = counted.rulesOf(d.day);
        const view = viewDay(
          {
            closedSeconds: d.closed_seconds,
            firstInMs: d.first_in,
            lastOutMs: d.last_out,
            openSinceMs: d.open_since,
            maxTemperatureC: d.max_temperature_c,
            outsWithoutIn: d.outs_without_in,
            doubleIns: d.double_ins,
            doubleOuts: d.double_outs,
            events: d.events,
          },
          counts ?? dayRules(school.attendance, school.timeZone, d.day),
          nowMs,
        );
        const flags = [
          view.late && "late",
          view.fever && "fever",
          view.autoClosed && "auto_closed",
          view.anomalies > 0 && "anomalies",
        ].filter(Boolean);
        return [
          d.day,
          safeCell(d.person_id),
          names ? safeCell(d.name) : "",
          counts !== undefined ? "true" : "false",
          view.minutes,
          iso(d.first_in),
          iso(d.last_out),
          view.inNow ? "in" : view.present ? "present" : "absent",
          flags.join(";"),
          d.max_temperature_c ?? "",
        ];
      }),
    );
  });
  return router;
}
