import { type Request, type RequestHandler, type Response, Router } from "express";
import { dayBounds, localDay } from "../../common/attendance/school-day.ts";
import { NotFoundError, ValidationError } from "../../common/errors.ts";
import type { Pool } from "../../common/postgres.ts";
import { idSchema } from "../../common/vote.ts";
import { actsFor, requestScope } from "../auth/actor.ts";
import { requireAdmin, requireAdminOrTeacher, requireTeacher } from "../auth/bearer-auth.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { linkBase } from "../http/link-base.ts";
import { parseBody } from "../http/parse-body.ts";
import { seesNames } from "../people/people-service.ts";
import type { CachedPoll, RegistryCache } from "../registry/registry-cache.ts";
import { teacherSignInSchema } from "./register-page-schemas.ts";
import type { TeacherSignIn } from "./teacher-sign-in.ts";
import { getTeacherCredential } from "./teacher-store.ts";

export interface RegisterPageRouteDeps {
  adminToken: string;
  cache: RegistryCache;
  pool: Pool;
  signIn: TeacherSignIn;
  /** Most registers GET /v1/teacher lists (TEACHER_DAY_MAX_REGISTERS). */
  dayMaxRegisters: number;
  bodyLimits: BodyLimitsConfig;
  /** The sign-in link's base (PUBLIC_URL); undefined: the request's origin. */
  publicUrl: string | undefined;
  /** POST /v1/teachers/sign-in per client address (RATE_LIMIT_PAIR_PER_MIN), as POST /v1/pair. */
  signInThrottle: RequestHandler;
  /** Failed sign-ins of every address together (RATE_LIMIT_PAIR_FAILURES_PER_MIN). */
  signInFailures: RequestHandler;
}

function param(req: Request, name: "schoolId" | "teacherId" | "pollId"): string {
  const result = idSchema.safeParse(req.params[name]);
  if (!result.success) throw new ValidationError([{ field: name, message: "is not a valid id" }]);
  return result.data;
}

// Credentials and names: no cache between the API and the reader keeps them.
const noStore = (res: Response) => res.setHeader("Cache-Control", "private, no-store");

/**
 * What the register page (web/register.html) needs besides the vote and completion routes:
 * a teacher's sign-in link (the school's admin makes it, the page exchanges it), the
 * teacher's day (its school's registers of today) and a register's roster with names.
 */
export function registerPageRoutes(deps: RegisterPageRouteDeps): Router {
  const { cache, pool } = deps;
  const router = Router();
  const admin = requireAdmin(deps.adminToken, cache);
  const reader = requireAdminOrTeacher(deps.adminToken, cache);
  // The teacher's day is the teacher's own: an admin has no "today's registers" of its own.
  const teacher = requireTeacher(cache);

  router.post("/v1/schools/:schoolId/teachers/:teacherId/sign-in-link", admin, async (req, res) => {
    const base = linkBase(req, deps.publicUrl, "sign-in link");
    const link = await deps.signIn.createLink(
      param(req, "schoolId"),
      param(req, "teacherId"),
      base,
      requestScope(req),
    );
    // The link is a credential until used or expired.
    res.status(201).setHeader("Cache-Control", "no-store").json(link);
  });

  router.post(
    "/v1/teachers/sign-in",
    deps.signInThrottle,
    deps.signInFailures,
    // A code exchange, as kiosk pairing is: the same small limit.
    limitedJsonBody(deps.bodyLimits, "pairingBodyBytes"),
    async (req, res) => {
      const { code } = parseBody(teacherSignInSchema, req.body);
      res.setHeader("Cache-Control", "no-store").json(await deps.signIn.signIn(code));
    },
  );

  router.get("/v1/teacher", teacher, async (req, res) => {
    const actor = req.actor as { kind: "teacher"; schoolId: string; teacherId: string };
    const school = cache.school(actor.schoolId);
    // The label is not in the registry cache (it authenticates by hash only).
    const label = (await getTeacherCredential(pool, actor.teacherId))?.label;
    const timeZone = school?.timeZone ?? "UTC";
    const now = Date.now();
    const day = localDay(now, timeZone);
    const { startMs, endMs } = dayBounds(day, timeZone);
    // The school's registers of the day from the cache's index, not a walk of every poll.
    const registers = [];
    for (const poll of cache.registersStarting(actor.schoolId, startMs, endMs))
      if (!poll.archived) registers.push(poll);
    registers.sort(
      (a, b) => Date.parse(a.startsAt!) - Date.parse(b.startsAt!) || a.title.localeCompare(b.title),
    );
    noStore(res).json({
      teacherId: actor.teacherId,
      schoolId: actor.schoolId,
      label: label ?? actor.teacherId,
      day,
      registers: registers.slice(0, deps.dayMaxRegisters).map(summary),
      more: registers.length > deps.dayMaxRegisters,
    });
  });

  router.get("/v1/registers/:pollId/roster", reader, async (req, res) => {
    const pollId = param(req, "pollId");
    const poll = cache.poll(pollId);
    const scope = requestScope(req);
    if (poll === undefined || poll.kind !== "register" || !actsFor(scope, poll.schoolId))
      throw new NotFoundError("poll_not_found", `no lesson register has the id "${pollId}"`);
    const { rows } = await pool.query<{ id: string; name: string | null }>(
      `select id, name from people
       where school_id = $1 and active and $2 = any(groups)
       order by name nulls last, id`,
      [poll.schoolId, poll.groupId],
    );
    // Names for the school's own admins and teachers (people-service.ts `seesNames`).
    const names = seesNames(scope, poll.schoolId);
    const { id, ...lesson } = summary(poll);
    noStore(res).json({
      pollId: id,
      schoolId: poll.schoolId,
      ...lesson,
      people: rows.map((r) => ({ id: r.id, name: names ? r.name : null })),
    });
  });
  return router;
}

function summary(poll: CachedPoll) {
  return {
    id: poll.id,
    title: poll.title,
    groupId: poll.groupId!,
    startsAt: poll.startsAt!,
    endsAt: poll.endsAt!,
  };
}
