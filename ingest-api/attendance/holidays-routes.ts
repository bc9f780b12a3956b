import { type Request, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import { requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { AttendanceReadsConfig } from "../config.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { schoolParam } from "./attendance-settings-routes.ts";
import {
  DATE_MESSAGE,
  dateRangeSchema,
  localDaySchema,
  putHolidaySchema,
} from "./holidays-schemas.ts";
import type { HolidaysService } from "./holidays-service.ts";

export interface HolidaysRouteDeps {
  holidays: HolidaysService;
  cache: RegistryCache;
  adminToken: string;
  limits: Pick<AttendanceReadsConfig, "holidaysRangeMaxDays">;
  bodyLimits: Pick<BodyLimitsConfig, "adminBodyBytes">;
}

function dateParam(req: Request): string {
  const result = localDaySchema.safeParse(req.params.date);
  if (!result.success) throw new ValidationError([{ field: "date", message: DATE_MESSAGE }]);
  return result.data;
}

/** A school's holidays, kept by its own admin or the deployment admin. */
export function holidaysRoutes(deps: HolidaysRouteDeps) {
  const { holidays, cache, adminToken, limits } = deps;
  const router = Router();
  const admin = requireAdmin(adminToken, cache);
  const range = dateRangeSchema(limits.holidaysRangeMaxDays, "HOLIDAYS_RANGE_MAX_DAYS");
  const base = "/v1/schools/:schoolId/holidays";

  router.get(base, admin, async (req, res) => {
    const { from, to } = parseBody(range, req.query);
    res.json(await holidays.list(schoolParam(req), from, to, requestScope(req)));
  });
  router.put(
    `${base}/:date`,
    admin,
    limitedJsonBody(deps.bodyLimits, "adminBodyBytes"),
    async (req, res) => {
      const { name } = parseBody(putHolidaySchema, req.body);
      const { holiday, created } = await holidays.put(
        schoolParam(req),
        dateParam(req),
        name,
        requestScope(req),
      );
      res.status(created ? 201 : 200).json(holiday);
    },
  );
  router.delete(`${base}/:date`, admin, async (req, res) => {
    res.json(await holidays.delete(schoolParam(req), dateParam(req), requestScope(req)));
  });
  return router;
}
