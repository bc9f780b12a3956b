import { type Request, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";
import { requestScope } from "../auth/actor.ts";
import { requireAdmin, requireDeploymentAdmin } from "../auth/bearer-auth.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { withNextLink } from "../http/next-link.ts";
import type { ListPageConfig } from "../http/page-cursor.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { schoolListQuerySchema } from "./school-list-query.ts";
import {
  createSchoolAdminSchema,
  createSchoolSchema,
  updateSchoolSchema,
} from "./school-schemas.ts";
import type { SchoolService } from "./school-service.ts";

export interface SchoolRouteDeps {
  schools: SchoolService;
  cache: RegistryCache;
  adminToken: string;
  bodyLimits: Pick<BodyLimitsConfig, "adminBodyBytes">;
  /** Page sizes of the schools list. */
  pages: ListPageConfig;
}

function param(req: Request, name: "schoolId" | "adminId"): string {
  const result = idSchema.safeParse(req.params[name]);
  if (!result.success) throw new ValidationError([{ field: name, message: "is not a valid id" }]);
  return result.data;
}

/**
 * Schools and their admins. Creating, changing, deleting and listing schools, and issuing
 * or revoking school admins, is the deployment admin's; a school admin may read its own
 * school (another school is 404, as a missing one).
 */
export function schoolRoutes({ schools, cache, adminToken, bodyLimits, pages }: SchoolRouteDeps) {
  const router = Router();
  const listQuery = schoolListQuerySchema(pages);
  const deployment = requireDeploymentAdmin(adminToken, cache);
  const admin = requireAdmin(adminToken, cache);
  const body = limitedJsonBody(bodyLimits, "adminBodyBytes");

  router.post("/v1/schools", deployment, body, async (req, res) => {
    const school = await schools.createSchool(parseBody(createSchoolSchema, req.body));
    res.status(201).location(`/v1/schools/${school.id}`).json(school);
  });
  router.get("/v1/schools", deployment, async (req, res) => {
    const query = parseBody(listQuery, req.query);
    res.json(withNextLink(req, res, await schools.listSchools(query)));
  });
  router.get("/v1/schools/:schoolId", admin, async (req, res) => {
    res.json(await schools.getSchool(param(req, "schoolId"), requestScope(req)));
  });
  router.patch("/v1/schools/:schoolId", deployment, body, async (req, res) => {
    const patch = parseBody(updateSchoolSchema, req.body);
    res.json(await schools.updateSchool(param(req, "schoolId"), patch));
  });
  router.delete("/v1/schools/:schoolId", deployment, async (req, res) => {
    res.json(await schools.deleteSchool(param(req, "schoolId")));
  });

  router.post("/v1/schools/:schoolId/admins", deployment, body, async (req, res) => {
    const { label } = parseBody(createSchoolAdminSchema, req.body);
    const issued = await schools.issueAdmin(param(req, "schoolId"), label);
    // The token is a credential shown this once: no cache may keep it.
    res
      .status(201)
      .setHeader("Cache-Control", "no-store")
      .location(`/v1/schools/${issued.schoolId}/admins/${issued.id}`)
      .json(issued);
  });
  router.get("/v1/schools/:schoolId/admins", deployment, async (req, res) => {
    res.json({ admins: await schools.listAdmins(param(req, "schoolId")) });
  });
  router.delete("/v1/schools/:schoolId/admins/:adminId", deployment, async (req, res) => {
    res.json(await schools.revokeAdmin(param(req, "schoolId"), param(req, "adminId")));
  });
  return router;
}
