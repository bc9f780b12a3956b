import { z } from "zod";
import { isPortableTimeZone, TIME_ZONE_RULE } from "../../common/time-zone.ts";
import { idSchema, isStorableInstant } from "../../common/vote.ts";

// Request bodies of the registry API. Validation messages are what an admin reads. The
// title and time zone rules are shared by every admin body that names things (schools, people).

export const timeZoneSchema = z
  .string({ error: "must be a string" })
  .refine(isPortableTimeZone, { error: TIME_ZONE_RULE });

const instantSchema = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 timestamp with a time zone" })
  .refine(isStorableInstant, { error: "must be between the years 0001 and 9999 (UTC)" })
  // Kept to the millisecond: the window is checked in JavaScript, which has no finer clock
  // (Postgres would round microseconds and could find an "ordered" window empty).
  .transform((s) => new Date(Date.parse(s)).toISOString())
  .nullable();

export const titleSchema = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, { error: "must not be empty" })
  .max(200, { error: "must be at most 200 characters" })
  // Postgres text cannot hold NUL.
  .refine((s) => !s.includes("\u0000"), { error: "must not contain NUL characters" });

const optionSchema = z.strictObject({ id: idSchema, label: titleSchema });

const optionsSchema = z
  .array(optionSchema, { error: "must be an array of {id, label}" })
  .min(1, { error: "must hold at least one option" })
  .max(100, { error: "must hold at most 100 options" })
  .refine((options) => new Set(options.map((o) => o.id)).size === options.length, {
    error: "option ids must be unique",
  });

const visibilitySchema = z.enum(["live", "after_close"], {
  error: 'must be "live" or "after_close"',
});

/** The pause a kiosk page keeps between two votes: 0 (none) to 10 minutes. */
export const VOTE_COOLDOWN_MAX_MS = 600_000;
export const DEFAULT_VOTE_COOLDOWN_MS = 2_000;

const voteCooldownSchema = z
  .number({ error: "must be a number of milliseconds" })
  .int({ error: "must be a whole number of milliseconds" })
  .min(0, { error: "must be at least 0 (no cooldown)" })
  .max(VOTE_COOLDOWN_MAX_MS, { error: `must be at most ${VOTE_COOLDOWN_MAX_MS} (10 minutes)` });

/** Most polls one kiosk may be limited to (the kiosks.poll_ids check, migration 012). */
export const KIOSK_POLL_IDS_MAX = 1_000;

/** The polls a kiosk may vote in; null (or absent on create) = any poll. */
const pollIdsSchema = z
  .array(idSchema, { error: "must be an array of poll ids, or null for any poll" })
  .min(1, { error: "must hold at least one poll id (null allows any poll)" })
  .max(KIOSK_POLL_IDS_MAX, { error: `must hold at most ${KIOSK_POLL_IDS_MAX} poll ids` })
  .refine((ids) => new Set(ids).size === ids.length, { error: "poll ids must be unique" })
  .nullable();

const votersSchema = z.enum(["any", "roster"], {
  error: 'must be "any" (any voter id) or "roster" (only active people of the school)',
});

/** The school a poll or kiosk is created in: the deployment admin's choice (default: `default`). */
const schoolIdSchema = idSchema.optional();

/** One group id, as a roster's groups are written (people-schemas.ts: the id pattern). */
const groupIdSchema = idSchema;

const lessonInstantSchema = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 timestamp with a time zone" })
  .refine(isStorableInstant, { error: "must be between the years 0001 and 9999 (UTC)" })
  .transform((s) => new Date(Date.parse(s)).toISOString());

/** The groups an attendance register is for (ids as a roster's groups); null = everyone. */
const groupIdsSchema = z
  .array(
    z
      .string({ error: "must be a group id" })
      .trim()
      .min(1, { error: "must not be empty" })
      .max(64, { error: "must be at most 64 characters" }),
    { error: "must be an array of group ids, or null for the whole school" },
  )
  .min(1, { error: "must hold at least one group (null: the whole school)" })
  .max(50, { error: "must hold at most 50 groups" })
  .refine((ids) => new Set(ids).size === ids.length, { error: "group ids must be unique" })
  .nullable();

/** The settings a poll may be created with and changed later, all optional in both. */
const pollSettings = {
  groupIds: groupIdsSchema.optional(),
  voters: votersSchema.optional(),
  timeZone: timeZoneSchema.optional(),
  opensAt: instantSchema.optional(),
  closesAt: instantSchema.optional(),
  resultsVisibility: visibilitySchema.optional(),
  oneVotePerVoter: z.boolean({ error: "must be true or false" }).optional(),
  voteCooldownMs: voteCooldownSchema.optional(),
};

export const createPollSchema = z
  .strictObject({
    /** The poll's name in its school (its slug); the answer's id is what URLs take. */
    id: idSchema,
    schoolId: schoolIdSchema,
    kind: z
      .enum(["vote", "attendance", "register"], {
        error: 'must be "vote", "attendance" or "register"',
      })
      .optional(),
    title: titleSchema,
    /** A vote's options; an attendance register's are `in` and `out` (ATTENDANCE_OPTIONS). */
    options: optionsSchema.optional(),
    /** A lesson register's group, start and end (docs/registers.md). */
    groupId: groupIdSchema.optional(),
    startsAt: lessonInstantSchema.optional(),
    endsAt: lessonInstantSchema.optional(),
    ...pollSettings,
  })
  .refine((p) => windowIsOrdered(p.opensAt, p.closesAt), {
    path: ["closesAt"],
    error: "must be after opensAt",
  })
  // A vote needs its options: said even when other fields are wrong too (`when`), as a
  // missing required field is.
  .refine((p) => (p.kind ?? "vote") !== "vote" || p.options !== undefined, {
    path: ["options"],
    error: "is required",
    when: (payload) => {
      const input = payload.value as { kind?: unknown; options?: unknown } | null;
      return typeof input === "object" && input !== null && input.options === undefined;
    },
  })
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: "custom", path: [path], message, input: p });
    if (p.kind !== "register")
      for (const field of ["groupId", "startsAt", "endsAt"] as const)
        if (p[field] !== undefined) issue(field, "is for lesson registers only");
    if (p.kind === "register") {
      checkLessonRegister(p, issue);
      return;
    }
    if (p.kind !== "attendance") {
      if (p.groupIds !== undefined) issue("groupIds", "is for attendance registers only");
      return;
    }
    if (p.options !== undefined)
      issue("options", "must be left out: an attendance register's options are in and out");
    if (p.voters === "any")
      issue("voters", 'must be "roster": an attendance register takes the school\'s people only');
    if (p.oneVotePerVoter === true)
      issue("oneVotePerVoter", "must be false: people check in and out every day");
  });
export type CreatePoll = z.infer<typeof createPollSchema>;

/** A lesson register's create: its one group and its times; no options, no roster choice. */
function checkLessonRegister(
  p: {
    groupId?: string | undefined;
    startsAt?: string | undefined;
    endsAt?: string | undefined;
    options?: unknown;
    groupIds?: unknown;
    voters?: string | undefined;
    oneVotePerVoter?: boolean | undefined;
  },
  issue: (path: string, message: string) => void,
): void {
  if (p.groupId === undefined) issue("groupId", "is required for a lesson register");
  if (p.startsAt === undefined) issue("startsAt", "is required for a lesson register");
  if (p.endsAt === undefined) issue("endsAt", "is required for a lesson register");
  else if (p.startsAt !== undefined && Date.parse(p.endsAt) <= Date.parse(p.startsAt))
    issue("endsAt", "must be after startsAt");
  if (p.options !== undefined)
    issue("options", "must be left out: a lesson register's options are absent and present");
  if (p.groupIds !== undefined)
    issue("groupIds", "must be left out: a lesson register names groupId");
  if (p.voters === "any")
    issue("voters", 'must be "roster": a lesson register takes the school\'s people only');
  if (p.oneVotePerVoter === true)
    issue("oneVotePerVoter", "must be false: an absence may be taken back");
}

export const updatePollSchema = z.strictObject({
  title: titleSchema.optional(),
  options: optionsSchema.optional(),
  ...pollSettings,
  archived: z.boolean({ error: "must be true or false" }).optional(),
});
export type UpdatePoll = z.infer<typeof updatePollSchema>;

export const createKioskSchema = z.strictObject({
  id: idSchema,
  schoolId: schoolIdSchema,
  name: titleSchema,
  pollIds: pollIdsSchema.optional(),
});
export type CreateKiosk = z.infer<typeof createKioskSchema>;

export const updateKioskSchema = z.strictObject({
  name: titleSchema.optional(),
  pollIds: pollIdsSchema.optional(),
});
export type UpdateKiosk = z.infer<typeof updateKioskSchema>;

/** `POST /v1/pair`: the code as the kiosk shows or types it (normalised by pairing-code.ts). */
export const pairSchema = z.strictObject({
  code: z.string({ error: "must be a string" }).max(64, { error: "must be at most 64 characters" }),
});

export function windowIsOrdered(
  opensAt: string | null | undefined,
  closesAt: string | null | undefined,
): boolean {
  if (!opensAt || !closesAt) return true;
  return Date.parse(closesAt) > Date.parse(opensAt);
}

// Answers of the registry API: what /openapi.json describes and the tests hold each answer to.

/** An instant as the API answers it (ISO 8601, UTC). */
export const instantAnswerSchema = z.iso.datetime({ offset: true });

/** A poll's kind as answers name it (common/registry-types.ts `PollKind`). */
export const pollKindAnswerSchema = z.enum(["vote", "attendance", "register"]);

const pollOptionAnswerSchema = z.strictObject({
  id: z.string(),
  label: z.string(),
  position: z.int(),
});

export const pollAnswerSchema = z
  .strictObject({
    id: z.string().meta({ description: "globally unique: what every URL takes" }),
    schoolId: z.string(),
    slug: z.string().meta({ description: "the poll's name in its school" }),
    kind: pollKindAnswerSchema,
    groupIds: z.array(z.string()).nullable(),
    groupId: z.string().optional().meta({ description: "a lesson register's group" }),
    startsAt: instantAnswerSchema.optional().meta({ description: "a lesson register's start" }),
    endsAt: instantAnswerSchema.optional().meta({ description: "a lesson register's end" }),
    title: z.string(),
    timeZone: z.string(),
    opensAt: instantAnswerSchema.nullable(),
    closesAt: instantAnswerSchema.nullable(),
    resultsVisibility: z.enum(["live", "after_close"]),
    oneVotePerVoter: z.boolean(),
    voteCooldownMs: z.int(),
    voters: z.enum(["any", "roster"]),
    archived: z.boolean(),
    archivedAt: instantAnswerSchema.nullable(),
    createdAt: instantAnswerSchema,
    updatedAt: instantAnswerSchema,
    options: z.array(pollOptionAnswerSchema),
  })
  .meta({ id: "Poll" });

export const pollListAnswerSchema = z.strictObject({
  polls: z.array(pollAnswerSchema),
  next: z.string().nullable().meta({ description: "the `after` of the next page; null: the last" }),
});

const kioskFields = {
  id: z.string(),
  schoolId: z.string(),
  slug: z.string(),
  name: z.string(),
  pollIds: z.array(z.string()).nullable().meta({ description: "null: any poll of its school" }),
  createdAt: instantAnswerSchema,
  revokedAt: instantAnswerSchema.nullable(),
};

export const kioskAnswerSchema = z.strictObject(kioskFields).meta({ id: "Kiosk" });

export const createdKioskAnswerSchema = z
  .strictObject({ ...kioskFields, token: z.string().meta({ description: "shown this once" }) })
  .meta({ id: "CreatedKiosk" });

/** A kiosk's last status report (kiosk-health.ts), as GET /v1/kiosks shows it. */
export const kioskStatusAnswerSchema = z.strictObject({
  pending: z.int(),
  oldestPendingAt: z.string().nullable(),
  lastSentAt: z.string().nullable(),
  refused: z.int().nullable(),
  appVersion: z.string().nullable(),
  persisted: z.boolean().nullable(),
  lastError: z.string().nullable(),
  reportedAt: instantAnswerSchema,
});

export const kioskListAnswerSchema = z.strictObject({
  kiosks: z.array(
    z.strictObject({
      ...kioskFields,
      lastSeenAt: instantAnswerSchema.nullable(),
      status: kioskStatusAnswerSchema.nullable(),
    }),
  ),
  health: z.enum(["ok", "unavailable"]),
  next: z.string().nullable().meta({ description: "the `after` of the next page; null: the last" }),
});

export const pairingAnswerSchema = z.strictObject({
  code: z.string(),
  pairUrl: z.url(),
  expiresAt: instantAnswerSchema,
  qrSvg: z.string(),
});

export const pairedKioskAnswerSchema = z
  .strictObject({
    kioskId: z.string(),
    schoolId: z.string(),
    name: z.string(),
    token: z.string(),
    pollIds: z.array(z.string()).nullable(),
  })
  .meta({ id: "PairedKiosk" });
