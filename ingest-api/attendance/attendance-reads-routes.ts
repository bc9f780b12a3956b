import { type Request, type Response, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import { requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { AttendanceReadsConfig } from "../config.ts";
import { parseBody } from "../http/parse-body.ts";
import { personIdSchema } from "../people/people-schemas.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { type AttendanceReadDeps, readPeriod } from "./attendance-period.ts";
import { readPersonDays } from "./attendance-person.ts";
import { periodQuerySchema, personDaysQuerySchema } from "./attendance-reads-schemas.ts";
import { schoolParam } from "./attendance-settings-routes.ts";

export interface AttendanceReadRouteDeps extends AttendanceReadDeps {
  adminToken: string;
  cache: RegistryCache;
  limits: AttendanceReadsConfig;
}

/** The person id of the path, in the normal form a kiosk's voterId takes. */
function personParam(req: Request): string {
  const result = personIdSchema.safeParse(req.params.personId);
  if (!result.success)
    throw new ValidationError([
      { field: "personId", message: result.error.issues[0]?.message ?? "is not a valid id" },
    ]);
  return result.data;
}

// Names are personal data: no cache between the API and the admin keeps an answer.
const noStore = (res: Response) => res.setHeader("Cache-Control", "no-store");

/**
 * The attendance reads of weeks, months and a person's days, for the school's own admin
 * (names) and the deployment admin (ids). `GET /v1/schools/:schoolId/attendance` is shared
 * with the day document: this router answers it only when `period` is given, and passes
 * anything else on (`next("route")`) before authenticating, to the route mounted after it.
 */
export function attendanceReadRoutes(deps: AttendanceReadRouteDeps) {
  const router = Router();
  const admin = requireAdmin(deps.adminToken, deps.cache);
  const periodQuery = periodQuerySchema(deps.limits);
  const personQuery = personDaysQuerySchema(deps.limits.personRangeMaxDays);

  router.get(
    "/v1/schools/:schoolId/attendance",
    (req, _res, next) => next(req.query.period === undefined ? "route" : undefined),
    admin,
    async (req, res) => {
      const query = parseBody(periodQuery, req.query);
      noStore(res).json(await readPeriod(deps, schoolParam(req), query, requestScope(req)));
    },
  );
  router.get("/v1/schools/:schoolId/people/:personId/attendance", admin, async (req, res) => {
    const range = parseBody(personQuery, req.query);
    const answer = await readPersonDays(
      deps,
      schoolParam(req),
      personParam(req),
      range,
      requestScope(req),
    );
    noStore(res).json(answer);
  });
  return router;
}
