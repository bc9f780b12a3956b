import { z } from "zod";
import { completionIdSchema } from "../../common/register-completion.ts";
import { isStorableInstant } from "../../common/vote.ts";
import { dateRangeSchema } from "../attendance/holidays-schemas.ts";
import type { RegistersConfig } from "../config.ts";
import { instantAnswerSchema, titleSchema } from "../registry/registry-schemas.ts";

// What the lesson registers' routes take and answer (docs/registers.md): one source for the
// routes' validation, /openapi.json (register-openapi.ts) and the tests that hold each
// answer to it.

/** `POST …/teachers`: who holds the credential, shown in listings (never the token). */
export const createTeacherSchema = z.strictObject({ label: titleSchema });

/** `POST /v1/registers/:pollId/complete`: the client's id (a retry resends it) and when. */
export const completeSchema = z.strictObject({
  completionId: completionIdSchema,
  completedAt: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 timestamp with a time zone" })
    .refine(isStorableInstant, { error: "must be between the years 0001 and 9999 (UTC)" })
    .optional(),
});
export type CompleteInput = z.infer<typeof completeSchema>;

/** `?from=&to=` of the statistics: school-local days, both counted, at most the configured span. */
export function statsQuerySchema(limits: RegistersConfig) {
  return dateRangeSchema(limits.statsRangeMaxDays, "REGISTER_STATS_RANGE_MAX_DAYS");
}

/** `GET /v1/schools/:schoolId/registers?state=overdue`: the one list there is. */
export const overdueQuerySchema = z.strictObject({
  state: z.enum(["overdue"], { error: 'must be "overdue"' }),
});

// Answers.

const teacherFields = {
  id: z.string(),
  schoolId: z.string(),
  label: z.string(),
  createdAt: instantAnswerSchema,
};

export const teacherAnswerSchema = z.strictObject(teacherFields).meta({ id: "Teacher" });

export const issuedTeacherAnswerSchema = z.strictObject({
  ...teacherFields,
  token: z.string().meta({ description: "`tft_…`, shown this once" }),
});

export const teacherListAnswerSchema = z.strictObject({ teachers: z.array(teacherAnswerSchema) });

export const completionAnswerSchema = z
  .strictObject({
    pollId: z.string(),
    completionId: z.string(),
    status: z.enum(["accepted", "duplicate"]),
  })
  .meta({ id: "RegisterCompletion" });

const personIds = z.array(z.string()).meta({ description: "person ids in id order" });

/** The publisher's document (common/register-contract.ts `RegisterDocument`), served as written. */
export const registerDocumentAnswerSchema = z
  .strictObject({
    version: z.string().meta({ description: "the ETag's value" }),
    publishedAt: instantAnswerSchema,
    pollId: z.string(),
    schoolId: z.string(),
    groupId: z.string(),
    title: z.string(),
    startsAt: instantAnswerSchema,
    endsAt: instantAnswerSchema,
    completed: z.boolean(),
    completedAt: instantAnswerSchema.nullable(),
    changedAfterCompletion: z.boolean(),
    counts: z.strictObject({
      present: z.int(),
      absent: z.int(),
      pending: z.int(),
      events: z.int(),
    }),
    lists: z.strictObject({
      present: personIds,
      absent: personIds,
      pending: personIds.meta({
        description: "before the completion: the group's active members not reported absent",
      }),
    }),
    changedAfter: personIds.meta({
      description: "the people whose latest event was cast after the completion",
    }),
  })
  .meta({ id: "LessonRegister" });

const share = z.number().meta({ description: "present / (present + absent), 4 decimals" });

const lessonTotals = {
  lessonsHeld: z.int(),
  lessonsNotCompleted: z.int(),
  present: z.int().meta({ description: "person-lessons of the held lessons" }),
  absent: z.int(),
  share,
  changedAfterCompletion: z.int(),
};

const range = { from: z.iso.date(), to: z.iso.date() };

export const groupStatsAnswerSchema = z.strictObject({
  schoolId: z.string(),
  groupId: z.string(),
  ...range,
  ...lessonTotals,
  people: z.array(
    z.strictObject({
      id: z.string(),
      lessons: z.int(),
      present: z.int(),
      absent: z.int(),
      share,
    }),
  ),
});

export const schoolStatsAnswerSchema = z.strictObject({
  schoolId: z.string(),
  ...range,
  ...lessonTotals,
  groups: z.array(z.strictObject({ groupId: z.string(), ...lessonTotals })),
});

export const overdueListAnswerSchema = z.strictObject({
  schoolId: z.string(),
  state: z.literal("overdue"),
  graceMs: z.int().meta({ description: "REGISTER_COMPLETION_GRACE_MS" }),
  registers: z
    .array(
      z.strictObject({
        id: z.string(),
        slug: z.string(),
        title: z.string(),
        groupId: z.string(),
        startsAt: instantAnswerSchema,
        endsAt: instantAnswerSchema,
        absent: z.int(),
        events: z.int(),
      }),
    )
    .meta({ description: "oldest end first, at most 1,000" }),
});
