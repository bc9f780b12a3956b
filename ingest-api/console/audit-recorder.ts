import type { Request, RequestHandler, Response } from "express";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import { listHolidays } from "../attendance/holidays-store.ts";
import { clientAddress } from "../http/client-address.ts";
import { getPerson, toPerson } from "../people/people-store.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { getKiosk } from "../registry/registry-store.ts";
import { type AuditInput, insertAudit } from "./audit-store.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Fields never written to the log: credentials an answer carries once. */
const SECRET_FIELDS = new Set(["token", "code", "link", "pairUrl", "qrSvg", "csrfToken"]);
/**
 * A roster's people's names are personal data only their school's own admin reads
 * (people-service.ts seesNames); the deployment admin and the analyst read this log. An
 * erasure's pseudonym beside the erased id would link that person's events back to them.
 */
const PERSONAL_FIELDS = new Set(["name", "pseudonym"]);
const PERSONAL_PATH = /\/people(\/|$)/;
/** A request body larger than this (as JSON) is logged by its field names only. */
const MAX_LOGGED_BODY_CHARS = 4_096;

type Snapshot = Record<string, unknown>;

/** Where a route notes that its request, though state-changing by method, changed nothing. */
const NOT_A_CHANGE = "auditNotAChange";

/**
 * Called by a route that answered a state-changing method without changing anything (a
 * dry run): the request is not logged. The route says so, not a query parameter, so that no
 * parameter added to a request that does write can keep it out of the log.
 */
export function notAChange(res: Response): void {
  res.locals[NOT_A_CHANGE] = true;
}

/**
 * The objects whose state before a change is cheap: read from the registry cache (no query).
 */
function cachedSnapshots(cache: RegistryCache): [RegExp, (id: string) => Snapshot | undefined][] {
  return [
    [
      /^\/v1\/polls\/([^/]+)$/,
      (id) => {
        const p = cache.poll(id);
        if (p === undefined) return undefined;
        const { optionIds, createdAtMs, opensAtMs, closesAtMs, incarnation, ...poll } = p;
        return poll as unknown as Snapshot;
      },
    ],
    [/^\/v1\/schools\/([^/]+)$/, (id) => cache.school(id) as unknown as Snapshot | undefined],
  ];
}

/**
 * The objects the cache does not hold, read by primary key before the change runs (one
 * query, only for a PUT, PATCH or DELETE of one of them), in the shape their routes answer,
 * so that before and after compare field by field. Unscoped: the entry is written only when
 * the change succeeded, that is when the admin could see the object.
 */
function storedSnapshots(
  pool: Pool,
): [RegExp, (...ids: string[]) => Promise<Snapshot | undefined>][] {
  return [
    [
      /^\/v1\/kiosks\/([^/]+)$/,
      (id) =>
        getKiosk(pool, id!, null).then(
          (k) => k as unknown as Snapshot,
          () => undefined,
        ),
    ],
    [
      /^\/v1\/schools\/([^/]+)\/people\/([^/]+)$/,
      async (schoolId, id) => {
        const row = await getPerson(pool, schoolId!, id!);
        // Without the name: the log never holds one (PERSONAL_FIELDS).
        return row === undefined ? undefined : (toPerson(row, false) as unknown as Snapshot);
      },
    ],
    [
      /^\/v1\/schools\/([^/]+)\/holidays\/(\d{4}-\d{2}-\d{2})$/,
      async (schoolId, date) => {
        const [holiday] = await listHolidays(pool, schoolId!, date!, date!);
        return holiday as unknown as Snapshot | undefined;
      },
    ],
  ];
}

/** Where an export route leaves what it exported, for the recorder to log (auditExport). */
const EXPORT_LOCAL = "auditExport";

/**
 * Marks a read as one the audit log records: an export of personal data (a poll's votes, a
 * school's attendance, its roster). Logged when the response closes, whether the file was
 * sent whole (`complete: true`) or the client went away midway (`complete: false`).
 */
export function auditExport(res: Response, what: Record<string, unknown>): void {
  res.locals[EXPORT_LOCAL] = what;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value) // a CSV body (Buffer): logged by its size
  );
}

/** What may be logged of a body or an object: no secret, and no name of a person. */
function redactor(personal: boolean) {
  const hidden = (k: string) => SECRET_FIELDS.has(k) || (personal && PERSONAL_FIELDS.has(k));
  const redact = (value: unknown): unknown =>
    isRecord(value) ? Object.fromEntries(Object.entries(value).filter(([k]) => !hidden(k))) : value;
  return { hidden, redact };
}

/** What changed: PATCH, each field set with its value before and after; DELETE, the object gone. */
function changesOf(
  method: string,
  requestBody: unknown,
  before: Snapshot | undefined,
  answer: unknown,
  personal: boolean,
): unknown {
  const { hidden, redact } = redactor(personal);
  // A PUT that replaced an object is logged as a PATCH of the fields it sent; one that
  // created it (nothing before) by what it sent.
  if ((method === "PATCH" || (method === "PUT" && before !== undefined)) && isRecord(requestBody)) {
    const after = isRecord(answer) ? answer : requestBody;
    return Object.fromEntries(
      Object.keys(requestBody)
        .filter((k) => !hidden(k))
        .map((k) => [k, { before: before?.[k] ?? null, after: after[k] ?? requestBody[k] }]),
    );
  }
  if (method === "DELETE") {
    const gone = before ?? (isRecord(answer) ? answer : undefined);
    return gone === undefined ? null : { before: redact(gone) };
  }
  if (ArrayBuffer.isView(requestBody)) return { requestBytes: requestBody.byteLength };
  if (isRecord(requestBody)) {
    const text = JSON.stringify(redact(requestBody));
    return text.length <= MAX_LOGGED_BODY_CHARS
      ? { request: JSON.parse(text) }
      : { requestFields: Object.keys(requestBody).filter((k) => !hidden(k)) };
  }
  return null;
}

function objectIdOf(params: Record<string, unknown>, answer: unknown): string | null {
  const values = Object.values(params).filter((v): v is string => typeof v === "string");
  if (values.length > 0) return values[values.length - 1]!;
  if (isRecord(answer)) {
    if (typeof answer.id === "string") return answer.id;
    if (isRecord(answer.session) && typeof answer.session.id === "string") return answer.session.id;
  }
  return null;
}

function schoolOf(
  actorSchool: string | null,
  params: Record<string, unknown>,
  before: Snapshot | undefined,
  answer: unknown,
): string | null {
  if (actorSchool !== null) return actorSchool;
  for (const source of [params, before, answer]) {
    if (isRecord(source) && typeof source.schoolId === "string") return source.schoolId;
  }
  if (isRecord(answer) && isRecord(answer.session) && typeof answer.session.schoolId === "string")
    return answer.session.schoolId;
  return null;
}

/**
 * One hook for every admin route: a state-changing request that an admin (bearer token or
 * console session: `req.actor`, set by requireAdmin) made and that succeeded is appended to
 * the audit log after its answer — who, from which address, the route as the action, the
 * object from the route's ids (or the answer's for a create), the school, and what changed.
 * Written after the answer: a failed write is logged and counted
 * (`tallyflow_audit_write_failures_total`), never turned into a failed request.
 */
export function auditRecorder(deps: {
  pool: Pool;
  cache: RegistryCache;
  registry: Registry;
  logger: Logger;
}): RequestHandler {
  const cached = cachedSnapshots(deps.cache);
  const stored = storedSnapshots(deps.pool);
  const log = deps.logger.child({ component: "audit" });
  const failures = new Counter({
    name: "tallyflow_audit_write_failures_total",
    help: "Audit log entries that could not be written (logged at ERROR)",
    registers: [deps.registry],
  });
  /** Appends one entry for this request; `changes` as changesOf or auditExport made them. */
  const record = (
    req: Request,
    res: Response,
    before: Snapshot | undefined,
    answer: unknown,
    changes: unknown,
  ) => {
    const actor = req.actor;
    if (actor === undefined || res.statusCode >= 400 || req.route === undefined) return;
    if (res.locals[NOT_A_CHANGE] === true) return;
    const params = (req.params ?? {}) as Record<string, unknown>;
    const entry: AuditInput = {
      schoolId: schoolOf(
        actor.kind === "deployment" ? null : actor.schoolId,
        params,
        before,
        answer,
      ),
      actorKind: actor.kind,
      actorId:
        actor.kind === "school" ? actor.adminId : actor.kind === "teacher" ? actor.teacherId : null,
      sessionId: req.consoleSession?.id ?? null,
      action: `${req.method} ${req.baseUrl}${String(req.route.path)}`,
      objectId: objectIdOf(params, answer),
      address: clientAddress(req),
      status: res.statusCode,
      changes,
    };
    insertAudit(deps.pool, entry).catch((err: unknown) => {
      failures.inc();
      log.error({ err, action: entry.action, objectId: entry.objectId }, "audit write failed");
    });
  };

  /** The object's state before the request changes it, if it is one whose state is kept. */
  const snapshotBefore = async (method: string, path: string): Promise<Snapshot | undefined> => {
    if (method !== "PATCH" && method !== "DELETE" && method !== "PUT") return undefined;
    for (const [pattern, read] of cached) {
      const m = pattern.exec(path);
      if (m) return read(decodeURIComponent(m[1]!));
    }
    for (const [pattern, read] of stored) {
      const m = pattern.exec(path);
      if (m) return read(...m.slice(1).map(decodeURIComponent));
    }
    return undefined;
  };

  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) {
      // A read is logged only when its route marked it an export (auditExport).
      res.once("close", () => {
        const what = res.locals[EXPORT_LOCAL] as Record<string, unknown> | undefined;
        if (what !== undefined)
          record(req, res, undefined, undefined, { ...what, complete: res.writableFinished });
      });
      return next();
    }
    let answer: unknown;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      answer = body;
      return json(body);
    };
    snapshotBefore(req.method, req.path).then(
      (before) => {
        res.once("finish", () =>
          record(
            req,
            res,
            before,
            answer,
            changesOf(req.method, req.body, before, answer, PERSONAL_PATH.test(req.path)),
          ),
        );
        next();
      },
      // A failed read of the state before (Postgres away): the change goes on, and the
      // error handler answers what its own queries meet.
      (err: unknown) => {
        log.warn({ err, path: req.path }, "audit: state before the change not read");
        res.once("finish", () =>
          record(
            req,
            res,
            undefined,
            answer,
            changesOf(req.method, req.body, undefined, answer, PERSONAL_PATH.test(req.path)),
          ),
        );
        next();
      },
    );
  };
}
