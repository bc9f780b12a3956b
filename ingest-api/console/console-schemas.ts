import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import { instantAnswerSchema } from "../registry/registry-schemas.ts";

// Requests of the console's API (invites, sign-in, the audit log's filters), validated by its
// routes, and its answers, held to the OpenAPI document (console-openapi.ts). Messages are
// what an admin reads.

const labelSchema = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, { error: "must not be empty" })
  .max(200, { error: "must be at most 200 characters" })
  .refine((s) => !/\p{Cc}/u.test(s), { error: "must not contain control characters" });

export const createInviteSchema = z.strictObject({
  /** The school whose admin the invite makes; absent: the deployment admin (or, for a school admin, its own school). */
  schoolId: idSchema.optional(),
  label: labelSchema,
});

export const signInSchema = z.strictObject({
  code: z
    .string({ error: "must be a string" })
    .min(1, { error: "must not be empty" })
    .max(64, { error: "must be at most 64 characters" }),
});

const instant = z.iso.datetime({ offset: true, error: "must be an ISO 8601 timestamp" });

/** The audit log's filters (`GET /v1/audit`, `GET /v1/audit.csv`); `limit` is at most AUDIT_PAGE_MAX. */
export const auditQuerySchema = z.object({
  actor: z
    .string()
    .min(1)
    .max(64, { error: "must be at most 64 characters" })
    .optional()
    .meta({ description: 'an admin id, or "deployment" for the deployment admin' }),
  action: z
    .string()
    .min(1)
    .max(200, { error: "must be at most 200 characters" })
    .optional()
    .meta({ description: "a route as `METHOD /path/:param`" }),
  from: instant.optional().meta({ description: "entries at or after this instant" }),
  to: instant.optional().meta({ description: "entries before this instant" }),
  before: z
    .string()
    .regex(/^[1-9]\d{0,18}$/, { error: "must be an entry id" })
    .optional()
    .meta({
      description:
        "the entries after this one, newest first (by time, then id): the previous page's `next`",
    }),
  limit: z.coerce
    .number({ error: "must be a number" })
    .int()
    .min(1)
    .optional()
    .meta({ description: "entries per page (AUDIT_PAGE_DEFAULT; at most AUDIT_PAGE_MAX)" }),
});

/** The columns of `GET /v1/audit.csv`, in order (its header row). */
export const AUDIT_CSV_COLUMNS = [
  "id",
  "at",
  "schoolId",
  "actorKind",
  "actorId",
  "sessionId",
  "action",
  "objectId",
  "address",
  "status",
  "changes",
] as const;

// Answers.

const sessionViewFields = {
  id: z.string(),
  role: z.enum(["deployment", "school"]),
  schoolId: z.string().nullable(),
  /** The school admin credential the session acts as (null: the deployment admin). */
  adminId: z.string().nullable(),
  label: z.string(),
  createdAt: instantAnswerSchema,
  expiresAt: instantAnswerSchema.meta({ description: "the absolute end (CONSOLE_SESSION_MAX_MS)" }),
  idleMs: z.int().meta({ description: "unused this long, it ends (CONSOLE_SESSION_IDLE_MS)" }),
};

/** A console session as its admins see it (a revoked one, as `DELETE …/sessions/{id}` answers). */
export const consoleSessionAnswerSchema = z
  .strictObject(sessionViewFields)
  .meta({ id: "ConsoleSession" });

/** The browser's own session and the CSRF token its state-changing requests carry. */
export const ownSessionAnswerSchema = z
  .strictObject({
    session: z.strictObject({
      ...sessionViewFields,
      kioskOfflineMs: z.int().meta({
        description: "a kiosk silent this long shows as offline (KIOSK_SEEN_RECENTLY_MS)",
      }),
    }),
    csrfToken: z.string().meta({ description: "send it in `X-CSRF-Token`" }),
  })
  .meta({ id: "OwnConsoleSession" });

export const sessionListAnswerSchema = z.strictObject({
  sessions: z.array(
    z.strictObject({
      ...sessionViewFields,
      lastSeenAt: instantAnswerSchema,
      address: z.string().nullable().meta({ description: "the client address it signed in from" }),
    }),
  ),
});

export const inviteAnswerSchema = z
  .strictObject({
    link: z
      .string()
      .meta({ description: "`<base>/console/#invite=<code>`: works once, shown this once" }),
    schoolId: z.string().nullable(),
    label: z.string(),
    expiresAt: instantAnswerSchema,
  })
  .meta({ id: "ConsoleInvite" });

export const auditEntryAnswerSchema = z
  .strictObject({
    id: z.string().meta({ description: "ascending: newer entries have larger ids" }),
    at: instantAnswerSchema,
    schoolId: z.string().nullable(),
    actorKind: z.enum(["deployment", "school", "teacher"]),
    actorId: z.string().nullable(),
    sessionId: z.string().nullable(),
    action: z.string(),
    objectId: z.string().nullable(),
    address: z.string(),
    status: z.int(),
    changes: z.unknown().meta({ description: "what changed (docs/console.md), or null" }),
  })
  .meta({ id: "AuditEntry" });

export const auditPageAnswerSchema = z.strictObject({
  entries: z.array(auditEntryAnswerSchema),
  next: z.string().nullable().meta({ description: "`before=` for the next page; null: no more" }),
});
