import { type Request, type Response, Router } from "express";
import type { LocalDay } from "../../common/attendance/school-day.ts";
import type { AttendanceAnnouncement } from "../../common/attendance-contract.ts";
import { keptDays } from "../../common/attendance-contract.ts";
import { NotFoundError, UnavailableError, ValidationError } from "../../common/errors.ts";
import type { School } from "../../common/registry-types.ts";
import { idSchema } from "../../common/vote.ts";
import { actsFor, requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import { seesNames } from "../people/people-service.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { EventStreamOptions } from "../results/event-stream-route.ts";
import type { ResultsEvents } from "../results/results-events.ts";
import { matchesEtag, readErrors, resultsCacheControl } from "../results/results-http.ts";
import type { DayAnnouncements } from "./day-announcements.ts";
import {
  adminAnswer,
  countsAnswer,
  dayEventsQuerySchema,
  dayQuerySchema,
  parseQuery,
} from "./day-answers.ts";
import type { DayAnswer, DayDocuments, DayPublication } from "./day-documents.ts";
import type { RosterNames } from "./roster-names.ts";

export interface DayRouteDeps {
  cache: RegistryCache;
  documents: DayDocuments;
  announcements: DayAnnouncements;
  names: RosterNames;
  adminToken: string;
  /** ATTENDANCE_DAYS_KEPT: the dates served. */
  daysKept: number;
  resultsIntervalMs: number;
  /** The SSE caps and heartbeat the results' streams have (one budget for both). */
  streams: EventStreamOptions;
  /** Where open streams are kept for shutdown (the results' events end them all). */
  tracker: Pick<ResultsEvents, "track">;
}

/** The admin document's path; `/events` below it is its event stream. */
export const ATTENDANCE_DAY_ROUTE = "/v1/schools/:schoolId/attendance";
/** The public counts' path (a wall screen's). */
export const PUBLIC_ATTENDANCE_ROUTE = "/v1/public/schools/:schoolId/attendance";

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no",
};

// Documents that name people: no cache between the API and the admin keeps them (as the
// people API's answers); the ETag still spares a client that keeps its copy the bytes.
const PRIVATE = "private, no-store";

const schoolNotFound = (id: string) =>
  new NotFoundError("school_not_found", `school "${id}" does not exist`);

function schoolParam(req: Request): string {
  const result = idSchema.safeParse(req.params.schoolId);
  if (!result.success)
    throw new ValidationError([{ field: "schoolId", message: "is not a valid school id" }]);
  return result.data;
}

/**
 * The school a day route names, if the caller may read it: the admin's own (or any for the
 * deployment admin), else the same 404 as a school that does not exist.
 */
function adminSchool(cache: RegistryCache, req: Request): School {
  const schoolId = schoolParam(req);
  const school = actsFor(requestScope(req), schoolId) ? cache.school(schoolId) : undefined;
  if (school === undefined) throw schoolNotFound(schoolId);
  return school;
}

/** The date asked for (default: the school's today), one of its kept days, else 400 naming `date`. */
function keptDate(school: School, date: LocalDay | undefined, daysKept: number): LocalDay {
  const days = keptDays(Date.now(), school.timeZone, daysKept);
  const day = date ?? days[0]!;
  if (!days.includes(day))
    throw new ValidationError([
      {
        field: "date",
        message: `must be one of the school's last ${daysKept} days, ${days.at(-1)} to ${days[0]} (ATTENDANCE_DAYS_KEPT); earlier days: the period and person reports`,
      },
    ]);
  return day;
}

/**
 * The school day routes: the admin's day document (`GET …/attendance?date=&group=`), its
 * event stream, and the public counts a school may publish for a wall screen. All are
 * answered from the in-process copy of the published documents (DayDocuments), never
 * from Postgres, but for the names the school's own admin sees (RosterNames).
 */
export function dayRoutes(deps: DayRouteDeps): Router {
  const { cache, documents, announcements, names, daysKept, resultsIntervalMs, streams } = deps;
  const router = Router();
  const admin = requireAdmin(deps.adminToken, cache);
  const errors = readErrors(resultsIntervalMs);
  const retryAfterS = Math.max(1, Math.round(resultsIntervalMs / 1000));
  const publicCacheControl = resultsCacheControl(resultsIntervalMs);

  const publication = async (schoolId: string, day: LocalDay): Promise<DayPublication> => {
    const found =
      documents.current(schoolId, day) ??
      (await errors.fromRedis(() => documents.load(schoolId, day)));
    if (found === null)
      throw new UnavailableError(
        "attendance_not_ready",
        `the attendance of school "${schoolId}" on ${day} is not published yet`,
        retryAfterS,
      );
    return found;
  };

  // A large answer goes gzip'd to a client that takes it (ATTENDANCE_GZIP_MIN_BYTES), as a
  // representation of its own: its ETag, and Vary on both, so no cache hands one to the other.
  const send = async (
    req: Request,
    res: Response,
    p: DayPublication,
    plain: DayAnswer,
    cacheControl: string,
  ): Promise<void> => {
    const negotiated = documents.gzips(plain);
    const made =
      negotiated && req.acceptsEncodings("gzip", "identity") === "gzip"
        ? await documents.gzipped(p, plain)
        : plain;
    const headers = {
      ETag: made.etag,
      "Cache-Control": cacheControl,
      ...(negotiated ? { Vary: "Accept-Encoding" } : {}),
    };
    if (matchesEtag(req.headers["if-none-match"], made.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    res
      .writeHead(200, {
        ...headers,
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": made.body.length,
        ...(made === plain ? {} : { "Content-Encoding": "gzip" }),
      })
      .end(made.body);
  };

  /** An answer of this publication, made once per version and kept with it. */
  const answerOf = (p: DayPublication, key: string, make: () => DayAnswer): DayAnswer => {
    let made = p.answers.get(key);
    if (made === undefined) {
      made = make();
      documents.remember(p, key, made);
    }
    return made;
  };

  // A new version's answers made as it is fetched, for the answers read of the version it
  // replaces (DayDocuments.onReplaced): the whole school or a group, the counts; with names
  // when the names kept are still those of the answer replaced (else its next read makes it).
  documents.onReplaced((p, keys) => {
    for (const key of keys) {
      const [kind, group = "", stamp = ""] = key.split("|");
      if (kind === "counts")
        documents.remember(p, key, countsAnswer(p, group === "" ? undefined : group));
      else if (kind === "admin" && stamp === "")
        documents.remember(p, key, adminAnswer(p, group === "" ? undefined : group, null));
      else if (kind === "admin") {
        const kept = names.kept(p.schoolId);
        if (kept?.stamp === stamp)
          documents.remember(p, key, adminAnswer(p, group === "" ? undefined : group, kept));
      }
    }
  });

  router.get(ATTENDANCE_DAY_ROUTE, admin, async (req, res, next) => {
    // `?period=week|month` is the period report's (another route of this path).
    if (req.query.period !== undefined) return next();
    const school = adminSchool(cache, req);
    const query = parseQuery(dayQuerySchema, req.query);
    const day = keptDate(school, query.date, daysKept);
    const p = await publication(school.id, day);
    const schoolNames = seesNames(requestScope(req), school.id) ? await names.get(school.id) : null;
    const key = `admin|${query.group ?? ""}|${schoolNames?.stamp ?? ""}`;
    await send(
      req,
      res,
      p,
      answerOf(p, key, () => adminAnswer(p, query.group, schoolNames)),
      PRIVATE,
    );
  });

  router.get(PUBLIC_ATTENDANCE_ROUTE, async (req, res) => {
    const parsed = idSchema.safeParse(req.params.schoolId);
    const school = parsed.success ? cache.school(parsed.data) : undefined;
    // A school that publishes no counts answers as one that does not exist.
    if (school === undefined || !school.attendance.publicCounts)
      throw schoolNotFound(String(req.params.schoolId));
    const query = parseQuery(dayQuerySchema, req.query);
    const day = keptDate(school, query.date, daysKept);
    const p = await publication(school.id, day);
    const made = answerOf(p, `counts|${query.group ?? ""}`, () => countsAnswer(p, query.group));
    await send(req, res, p, made, publicCacheControl);
  });

  const eventsPath = `${ATTENDANCE_DAY_ROUTE}/events`;
  router.head(eventsPath, admin, (req, res) => {
    adminSchool(cache, req);
    parseQuery(dayEventsQuerySchema, req.query);
    res.writeHead(200, SSE_HEADERS).end();
  });

  // One event per new version of the school's day documents (of `?date=` only, if given),
  // the current version of that day (default today) first. Admin only: an EventSource cannot
  // send a bearer token, so a page reads it with fetch (a stream body) instead.
  const frames = new WeakMap<AttendanceAnnouncement, Buffer>();
  const frameOf = (event: AttendanceAnnouncement): Buffer => {
    let frame = frames.get(event);
    if (frame === undefined) {
      frame = Buffer.from(
        `event: attendance\nid: ${event.version}\ndata: ${JSON.stringify(event)}\n\n`,
      );
      frames.set(event, frame);
    }
    return frame;
  };
  router.get(eventsPath, admin, async (req, res) => {
    const school = adminSchool(cache, req);
    const { date } = parseQuery(dayEventsQuerySchema, req.query);
    if (res.destroyed || req.socket.destroyed) return;
    let release: () => void;
    try {
      release = streams.admission.admit(req.ip ?? req.socket.remoteAddress ?? "unknown");
    } catch (err) {
      res.setHeader("Connection", "close");
      throw err;
    }
    res.once("close", release);
    res.writeHead(200, SSE_HEADERS);
    const write = (chunk: string | Buffer) => {
      if (res.destroyed) return;
      res.write(chunk);
      res.socket?.uncork();
      if (res.writableLength > streams.maxBufferedBytes) res.destroy();
    };
    const send = (event: AttendanceAnnouncement) => {
      if (date === undefined || event.day === date) write(frameOf(event));
    };
    write(`retry: ${Math.max(1_000, resultsIntervalMs)}\n\n`);
    if (!deps.tracker.track(res)) return;
    const unsubscribe = announcements.on(school.id, send);
    const heartbeat = setInterval(() => write(": ping\n\n"), streams.heartbeatMs);
    res.once("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
    const day = date ?? keptDays(Date.now(), school.timeZone, 1)[0]!;
    const current =
      documents.current(school.id, day) ?? (await documents.load(school.id, day).catch(() => null));
    if (current && !res.writableEnded) send({ schoolId: school.id, day, version: current.version });
  });

  return router;
}
