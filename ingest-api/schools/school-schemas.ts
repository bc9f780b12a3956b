import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import { timeZoneSchema, titleSchema } from "../registry/registry-schemas.ts";

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
