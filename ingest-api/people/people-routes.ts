import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Request, type Response, Router } from "express";
import type { z } from "zod";
import { ValidationError } from "../../common/errors.ts";
import { idSchema, toFieldIssues } from "../../common/vote.ts";
import { requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { PeopleConfig } from "../config.ts";
import { auditExport, notAChange } from "../console/audit-recorder.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { csvBody } from "../http/csv-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import {
  importQuerySchema,
  patchPersonSchema,
  peopleQuerySchema,
  personIdSchema,
  putPersonSchema,
} from "./people-schemas.ts";
import { type PeopleService, seesNames } from "./people-service.ts";
import { type RosterRecord, rosterRecord, rosterWriter } from "./roster-csv.ts";

export interface PeopleRouteDeps {
  people: PeopleService;
  /** Where school admins' tokens are looked up. */
  cache: RegistryCache;
  adminToken: string;
  limits: PeopleConfig;
  bodyLimits: Pick<BodyLimitsConfig, "adminBodyBytes">;
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  // reportInput: toFieldIssues tells a missing field from one of the wrong type by the input.
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}

function schoolParam(req: Request): string {
  const result = idSchema.safeParse(req.params.schoolId);
  if (!result.success)
    throw new ValidationError([{ field: "schoolId", message: "is not a valid school id" }]);
  return result.data;
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
 * The people API (a school's roster), for the deployment admin and the school's own admin:
 * parse, call the service, answer. Who sees names, and what each change does, is
 * PeopleService's. `/people/export` is registered before `/people/:personId`: a person
 * whose id is `export` is read through the list (`?q=export`).
 */
export function peopleRoutes(deps: PeopleRouteDeps) {
  const { people, cache, adminToken, limits } = deps;
  const router = Router();
  const admin = requireAdmin(adminToken, cache);
  const body = limitedJsonBody(deps.bodyLimits, "adminBodyBytes");
  const csv = csvBody(limits.importMaxBytes, "PEOPLE_IMPORT_MAX_BYTES");
  const listQuery = peopleQuerySchema(limits);
  const base = "/v1/schools/:schoolId/people";

  router.get(base, admin, async (req, res) => {
    const query = parse(listQuery, req.query);
    noStore(res).json(await people.listPeople(schoolParam(req), query, requestScope(req)));
  });

  router.post(`${base}/import`, admin, csv, async (req, res) => {
    const { mode, dryRun } = parse(importQuerySchema, req.query);
    const schoolId = schoolParam(req);
    const file = req.body as Buffer;
    const result = await people.importRoster(schoolId, file, mode, requestScope(req), dryRun);
    // A preview changed nothing: the audit log lists the import that is applied, not each look.
    if (dryRun) notAChange(res);
    res.json(result);
  });

  router.get(`${base}/export`, admin, async (req, res) => {
    const schoolId = schoolParam(req);
    const chunks = await people.exportRoster(schoolId, requestScope(req));
    // Names are personal data: each roster export is in the audit log.
    auditExport(res, { export: "roster", names: seesNames(requestScope(req), schoolId) });
    noStore(res)
      .status(200)
      .type("text/csv; charset=utf-8")
      .setHeader("Content-Disposition", `attachment; filename="people-${schoolId}.csv"`);
    // Chunk by chunk with backpressure: a roster of any size in bounded memory. A failure
    // midway cuts the connection (the status is sent): a client sees no complete-looking file.
    await pipeline(Readable.from(chunks), rowsOf(), rosterWriter(), res);
  });

  router.put(`${base}/:personId`, admin, body, async (req, res) => {
    const input = parse(putPersonSchema, req.body);
    const { person, created } = await people.putPerson(
      schoolParam(req),
      personParam(req),
      input,
      requestScope(req),
    );
    noStore(res)
      .status(created ? 201 : 200)
      .json(person);
  });
  router.get(`${base}/:personId`, admin, async (req, res) => {
    const person = await people.getPerson(schoolParam(req), personParam(req), requestScope(req));
    noStore(res).json(person);
  });
  router.patch(`${base}/:personId`, admin, body, async (req, res) => {
    const patch = parse(patchPersonSchema, req.body);
    const person = await people.patchPerson(
      schoolParam(req),
      personParam(req),
      patch,
      requestScope(req),
    );
    noStore(res).json(person);
  });
  router.delete(`${base}/:personId`, admin, async (req, res) => {
    res.json(await people.erasePerson(schoolParam(req), personParam(req), requestScope(req)));
  });
  return router;
}

/** Chunks of people to CSV records, one by one. */
function rowsOf(): Transform {
  return new Transform({
    objectMode: true,
    transform(chunk: RosterRecord[], _encoding, done) {
      for (const person of chunk) this.push(rosterRecord(person));
      done();
    },
  });
}
