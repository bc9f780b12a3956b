import { type Request, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";
import { requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { attendanceSettingsPatchSchema } from "./attendance-settings-schemas.ts";
import type { AttendanceSettingsService } from "./attendance-settings-service.ts";

export interface AttendanceSettingsRouteDeps {
  settings: AttendanceSettingsService;
  cache: RegistryCache;
  adminToken: string;
  bodyLimits: Pick<BodyLimitsConfig, "adminBodyBytes">;
}

/** The school id of the path (the attendance and holidays routes). */
export function schoolParam(req: Request): string {
  const result = idSchema.safeParse(req.params.schoolId);
  if (!result.success)
    throw new ValidationError([{ field: "schoolId", message: "is not a valid school id" }]);
  return result.data;
}

/**
 * `PATCH /v1/schools/:schoolId/attendance`: a school's presence rules, by its own admin or
 * the deployment admin. The answer is the school's settings after the change.
 */
export function attendanceSettingsRoutes({
  settings,
  cache,
  adminToken,
  bodyLimits,
}: AttendanceSettingsRouteDeps) {
  const router = Router();
  const admin = requireAdmin(adminToken, cache);
  router.patch(
    "/v1/schools/:schoolId/attendance",
    admin,
    limitedJsonBody(bodyLimits, "adminBodyBytes"),
    async (req, res) => {
      const patch = parseBody(attendanceSettingsPatchSchema, req.body);
      res.json(await settings.update(schoolParam(req), patch, requestScope(req)));
    },
  );
  return router;
}
