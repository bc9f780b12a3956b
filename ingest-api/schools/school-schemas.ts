import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import { instantAnswerSchema, timeZoneSchema, titleSchema } from "../registry/registry-schemas.ts";

// Request bodies of the schools API (deployment admin). Messages are what an admin reads.

export const createSchoolSchema = z.strictObject({
  id: idSchema,
  name: titleSchema,
  /** The default time zone of the school's polls (UTC when absent). */
  timeZone: timeZoneSchema.optional(),
});
export type CreateSchool = z.infer<typeof createSchoolSchema>;

export const updateSchoolSchema = z.strictObject({
  name: titleSchema.optional(),
  timeZone: timeZoneSchema.optional(),
});
export type UpdateSchool = z.infer<typeof updateSchoolSchema>;

export const createSchoolAdminSchema = z.strictObject({
  /** Who holds the credential (a person or a device): shown in listings, never the token. */
  label: titleSchema,
});

// Answers of the schools API.

export const attendanceSettingsAnswerSchema = z
  .strictObject({
    dayEndsAt: z.string(),
    minPresentMinutes: z.number(),
    lateAfter: z.string().nullable(),
    minPresentDaysPct: z.number(),
    weekdays: z.array(z.int().min(1).max(7)),
    feverThresholdC: z.number(),
    temperatureMinC: z.number(),
    temperatureMaxC: z.number(),
    publicCounts: z.boolean(),
  })
  .meta({ id: "AttendanceSettings" });

export const schoolAnswerSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    timeZone: z.string(),
    attendance: attendanceSettingsAnswerSchema,
    createdAt: instantAnswerSchema,
    updatedAt: instantAnswerSchema,
  })
  .meta({ id: "School" });

const schoolFiguresAnswerSchema = z
  .strictObject({
    polls: z.int().meta({ description: "polls not archived" }),
    openPolls: z.int().meta({ description: "of those, open now" }),
    kiosks: z.int().meta({ description: "kiosks not revoked" }),
    votesWaiting: z
      .int()
      .nullable()
      .meta({ description: "in their outboxes, as last reported; null: kiosk health unavailable" }),
  })
  .meta({ id: "SchoolFigures" });

export const schoolListAnswerSchema = z.strictObject({
  schools: z.array(
    z
      .strictObject({
        ...schoolAnswerSchema.shape,
        figures: schoolFiguresAnswerSchema.optional().meta({ description: "with `figures=true`" }),
      })
      .meta({ id: "SchoolListing" }),
  ),
  next: z.string().nullable().meta({ description: "the `after` of the next page; null: the last" }),
});

const schoolAdminFields = {
  id: z.string(),
  schoolId: z.string(),
  label: z.string(),
  createdAt: instantAnswerSchema,
};

export const schoolAdminAnswerSchema = z
  .strictObject(schoolAdminFields)
  .meta({ id: "SchoolAdmin" });

export const issuedSchoolAdminAnswerSchema = z.strictObject({
  ...schoolAdminFields,
  token: z.string().meta({ description: "shown this once" }),
});

export const schoolAdminListAnswerSchema = z.strictObject({
  admins: z.array(schoolAdminAnswerSchema),
});
