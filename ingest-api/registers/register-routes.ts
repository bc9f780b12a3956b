import { createHash } from "node:crypto";
import {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  Router,
} from "express";
import { NotFoundError, UnavailableError, ValidationError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { registerKeys } from "../../common/register-contract.ts";
import { idSchema } from "../../common/vote.ts";
import { actsFor, requestScope } from "../auth/actor.ts";
import { bearer, requireAdmin, requireAdminOrTeacher, requireKiosk } from "../auth/bearer-auth.ts";
import type { RegistersConfig } from "../config.ts";
import { jsonBody } from "../http/json-body.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { readErrors } from "../results/results-http.ts";
import type { CompletionService } from "./completion-service.ts";
import { groupStats, overdueRegisters, schoolStats } from "./register-reads.ts";
import {
  completeSchema,
  createTeacherSchema,
  overdueQuerySchema,
  statsQuerySchema,
} from "./register-schemas.ts";
import type { TeacherService } from "./teacher-service.ts";

export interface RegisterRouteDeps {
  adminToken: string;
  cache: RegistryCache;
  pool: Pool;
  redis: RedisClient;
  redisKeyPrefix: string;
  completions: CompletionService;
  teachers: TeacherService;
  config: RegistersConfig;
  /** Retry-After of a document not published yet: the publisher's interval. */
  resultsIntervalMs: number;
  logger: Logger;
  /**
   * Completions per credential (RATE_LIMIT_COMPLETIONS_PER_MIN), after the credential is
   * known (`completerKey`) and before the body is read.
   */
  completionThrottle: RequestHandler;
}

/** Who a completion's rate limit counts: the kiosk, the teacher or the admin that sent it. */
export function completerKey(req: Request): string {
  if (req.kiosk !== undefined) return `kiosk "${req.kiosk.id}"`;
  if (req.teacher !== undefined) return `teacher "${req.teacher.id}"`;
  const actor = req.actor;
  if (actor?.kind === "teacher") return `teacher "${actor.teacherId}"`;
  if (actor?.kind === "school") return `admin "${actor.adminId}"`;
  return "the deployment admin";
}

/** Most registers in the overdue list (the oldest first). */
const OVERDUE_LIST_MAX = 1_000;

function param(req: Request, name: "schoolId" | "teacherId" | "pollId" | "groupId"): string {
  const result = idSchema.safeParse(req.params[name]);
  if (!result.success) throw new ValidationError([{ field: name, message: "is not a valid id" }]);
  return result.data;
}

// Lists of people are personal data: no cache between the API and the reader keeps them.
const noStore = (res: Response) => res.setHeader("Cache-Control", "private, no-store");

/**
 * Lesson registers: teachers' credentials (the school's admin), the completion (a kiosk, a
 * teacher or an admin), the register's published document and the statistics (the school's
 * admins and teachers, and the deployment admin). Another school's anything is 404.
 */
export function registerRoutes(deps: RegisterRouteDeps) {
  const { adminToken, cache, pool, config } = deps;
  const router = Router();
  const admin = requireAdmin(adminToken, cache);
  const reader = requireAdminOrTeacher(adminToken, cache);
  const kioskOrTeacher = requireKiosk(cache, true);
  // A kiosk (a classroom tablet) or a teacher by its token; an admin otherwise.
  const completer = (req: Request, res: Response, next: NextFunction) => {
    const token = bearer(req);
    const hash = token === undefined ? "" : createHash("sha256").update(token).digest("hex");
    if (cache.kioskByTokenHash(hash) !== undefined) return kioskOrTeacher(req, res, next);
    return reader(req, res, next);
  };
  const body = jsonBody(16 * 1024);
  // Redis unreachable: 503 redis_unavailable (Retry-After), as the results' and day documents' reads.
  const redisRead = readErrors(deps.resultsIntervalMs).fromRedis;

  /** The school of the path, if the actor acts for it and it exists (404 otherwise). */
  const school = (req: Request) => {
    const id = param(req, "schoolId");
    const found = cache.school(id);
    if (!actsFor(requestScope(req), id) || found === undefined)
      throw new NotFoundError("school_not_found", `school "${id}" does not exist`);
    return found;
  };

  router.post("/v1/schools/:schoolId/teachers", admin, body, async (req, res) => {
    const { label } = parseBody(createTeacherSchema, req.body);
    const issued = await deps.teachers.issue(param(req, "schoolId"), label, requestScope(req));
    res
      .status(201)
      .setHeader("Cache-Control", "no-store")
      .location(`/v1/schools/${issued.schoolId}/teachers/${issued.id}`)
      .json(issued);
  });
  router.get("/v1/schools/:schoolId/teachers", admin, async (req, res) => {
    res.json({ teachers: await deps.teachers.list(param(req, "schoolId"), requestScope(req)) });
  });
  router.delete("/v1/schools/:schoolId/teachers/:teacherId", admin, async (req, res) => {
    res.json(
      await deps.teachers.revoke(
        param(req, "schoolId"),
        param(req, "teacherId"),
        requestScope(req),
      ),
    );
  });

  router.post(
    "/v1/registers/:pollId/complete",
    completer,
    deps.completionThrottle,
    body,
    async (req, res) => {
      const input = parseBody(completeSchema, req.body);
      const by =
        req.kiosk !== undefined
          ? ({ kind: "kiosk", kiosk: req.kiosk } as const)
          : req.teacher !== undefined
            ? ({
                kind: "actor",
                actor: {
                  kind: "teacher",
                  schoolId: req.teacher.schoolId,
                  teacherId: req.teacher.id,
                },
              } as const)
            : ({ kind: "actor", actor: req.actor! } as const);
      res.status(202).json(await deps.completions.complete(by, param(req, "pollId"), input));
    },
  );

  router.get("/v1/registers/:pollId", reader, async (req, res) => {
    const pollId = param(req, "pollId");
    const poll = cache.poll(pollId);
    if (
      poll === undefined ||
      poll.kind !== "register" ||
      !actsFor(requestScope(req), poll.schoolId)
    )
      throw new NotFoundError("poll_not_found", `no lesson register has the id "${pollId}"`);
    const keys = registerKeys(deps.redisKeyPrefix, pollId);
    const [version, json] = await redisRead(() => deps.redis.mGet([keys.version, keys.json]));
    if (version === null || json === null)
      throw new UnavailableError(
        "register_not_ready",
        `register "${pollId}" is not published yet`,
        Math.max(1, Math.round(deps.resultsIntervalMs / 1000)),
      );
    noStore(res).setHeader("ETag", `"${version}"`);
    if (req.headers["if-none-match"] === `"${version}"`) return res.status(304).end();
    res.type("application/json").send(json);
  });

  const statsQuery = statsQuerySchema(config);
  router.get("/v1/schools/:schoolId/groups/:groupId/stats", reader, async (req, res) => {
    const s = school(req);
    const groupId = param(req, "groupId");
    const { from, to } = parseBody(statsQuery, req.query);
    const stats = await groupStats(pool, s.id, groupId, { from, to, timeZone: s.timeZone });
    noStore(res).json({ schoolId: s.id, groupId, from, to, ...stats });
  });
  router.get("/v1/schools/:schoolId/registers/stats", reader, async (req, res) => {
    const s = school(req);
    const { from, to } = parseBody(statsQuery, req.query);
    const stats = await schoolStats(pool, s.id, { from, to, timeZone: s.timeZone });
    noStore(res).json({ schoolId: s.id, from, to, ...stats });
  });

  router.get("/v1/schools/:schoolId/registers", admin, async (req, res) => {
    const s = school(req);
    parseBody(overdueQuerySchema, req.query);
    const registers = await overdueRegisters(
      pool,
      s.id,
      config.completionGraceMs,
      OVERDUE_LIST_MAX,
    );
    res.json({ schoolId: s.id, state: "overdue", graceMs: config.completionGraceMs, registers });
  });
  return router;
}
