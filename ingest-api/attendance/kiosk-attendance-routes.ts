import { type RequestHandler, Router } from "express";
import { AppError, UnprocessableError, ValidationError } from "../../common/errors.ts";
import { toFieldIssues, voterIdSchema } from "../../common/vote.ts";
import { requireKiosk } from "../auth/bearer-auth.ts";
import type { KnownPeople } from "../people/known-people.ts";
import type { CachedKiosk, RegistryCache } from "../registry/registry-cache.ts";
import type { AttendanceState } from "./attendance-state.ts";

// GET /v1/kiosk/people/:personId/attendance: what a kiosk at the door shows after a badge
// scan, "in since 08:02" or "out since 12:30", so it can offer the other action. From Redis
// (attendance-state.ts), never Postgres: a scan is answered in a round trip.
//
// Who may ask: a kiosk of the person's school that may take attendance, i.e. whose poll
// scope (pollIds) is open or names one of its school's registers; a vote kiosk in the
// canteen learns nothing of who is at school. The person must be an active person of the
// kiosk's school, checked against the known people as an event's voterId is (422
// unknown_person, the id never echoed).

export interface KioskAttendanceRouteDeps {
  cache: RegistryCache;
  people: Pick<KnownPeople, "has">;
  state: Pick<AttendanceState, "read">;
  /** Counts against the kiosk's vote rate limit: one read per scan. */
  throttle?: RequestHandler;
  /** After auth: the kiosk was seen (kiosk-health.ts). */
  track?: RequestHandler;
}

const none: RequestHandler = (_req, _res, next) => next();

/** Whether the kiosk may take attendance: any poll of its school, or a register among its polls. */
function takesAttendance(cache: RegistryCache, kiosk: CachedKiosk): boolean {
  if (kiosk.pollIds === null) return true;
  for (const id of kiosk.pollIds) {
    const poll = cache.poll(id);
    if (poll?.kind === "attendance" && poll.schoolId === kiosk.schoolId && !poll.archived)
      return true;
  }
  return false;
}

export function kioskAttendanceRoutes({
  cache,
  people,
  state,
  throttle = none,
  track = none,
}: KioskAttendanceRouteDeps): Router {
  const router = Router();
  router.get(
    "/v1/kiosk/people/:personId/attendance",
    requireKiosk(cache),
    track,
    throttle,
    async (req, res) => {
      const kiosk = req.kiosk!;
      if (!takesAttendance(cache, kiosk))
        throw new AppError(
          403,
          "attendance_not_allowed",
          `kiosk "${kiosk.id}" may not take attendance: its pollIds name no attendance register of its school`,
        );
      const parsed = voterIdSchema.safeParse(req.params.personId);
      if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error, "personId"));
      const personId = parsed.data;
      const school = cache.school(kiosk.schoolId);
      if (school === undefined || !people.has(kiosk.schoolId, personId))
        throw new UnprocessableError(
          "unknown_person",
          "personId is not an active person of the kiosk's school",
          { field: "personId" },
        );
      const answer = await state.read(kiosk.schoolId, school.timeZone, personId);
      // Personal data: no cache (the service worker leaves this route alone too).
      res.setHeader("Cache-Control", "no-store").json({
        personId,
        day: answer.day,
        state: answer.state,
        since: answer.sinceMs === null ? null : new Date(answer.sinceMs).toISOString(),
      });
    },
  );
  return router;
}
