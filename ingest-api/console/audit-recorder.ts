import type { RequestHandler, Response } from "express";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import { clientAddress } from "../http/client-address.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
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
 * Others log what the request set and what the answer says.
 */
function snapshotReaders(cache: RegistryCache): [RegExp, (id: string) => Snapshot | undefined][] {
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
  if (method === "PATCH" && isRecord(requestBody)) {
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
  const readers = snapshotReaders(deps.cache);
  const log = deps.logger.child({ component: "audit" });
  const failures = new Counter({
    name: "tallyflow_audit_write_failures_total",
    help: "Audit log entries that could not be written (logged at ERROR)",
    registers: [deps.registry],
  });
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    let before: Snapshot | undefined;
    if (req.method === "PATCH" || req.method === "DELETE") {
      for (const [pattern, read] of readers) {
        const m = pattern.exec(req.path);
        if (m) before = read(decodeURIComponent(m[1]!));
      }
    }
    let answer: unknown;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      answer = body;
      return json(body);
    };
    res.once("finish", () => {
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
          actor.kind === "school"
            ? actor.adminId
            : actor.kind === "teacher"
              ? actor.teacherId
              : null,
        sessionId: req.consoleSession?.id ?? null,
        action: `${req.method} ${req.baseUrl}${String(req.route.path)}`,
        objectId: objectIdOf(params, answer),
        address: clientAddress(req),
        status: res.statusCode,
        changes: changesOf(req.method, req.body, before, answer, PERSONAL_PATH.test(req.path)),
      };
      insertAudit(deps.pool, entry).catch((err: unknown) => {
        failures.inc();
        log.error({ err, action: entry.action, objectId: entry.objectId }, "audit write failed");
      });
    });
    next();
  };
}
