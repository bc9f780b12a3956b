import { z } from "zod";

// What the day document routes answer: the publisher's documents
// (result-publisher/attendance-document.ts; contract: common/attendance-contract.ts) as the
// API serves them, the admin's with names added for the school's own admin.

const countsSchema = z.strictObject({
  roster: z.int(),
  inNow: z.int(),
  present: z.int(),
  absent: z.int(),
  late: z.int(),
  fever: z.int(),
  autoClosed: z.int(),
  anomalies: z.int(),
});

const base = {
  schoolId: z.string(),
  day: z.iso.date(),
  timeZone: z.string(),
  version: z.string().meta({ description: "the ETag's value" }),
  asOf: z.iso.datetime({ offset: true }).nullable(),
  publishedAt: z.iso.datetime({ offset: true }),
  dayEndsAt: z.string(),
  dayOver: z.boolean(),
  schoolDay: z.boolean(),
  rules: z.looseObject({}),
};

/** The lists and details of people, by id; `names` only for the school's own admin. */
export const dayDocumentAnswerSchema = z
  .looseObject({
    ...base,
    group: z.string().optional(),
    counts: countsSchema,
    lists: z.record(z.string(), z.array(z.string())),
    groups: z.record(z.string(), countsSchema).optional(),
    details: z.record(z.string(), z.looseObject({})),
    names: z.record(z.string(), z.string().nullable()).optional(),
  })
  .meta({ id: "AttendanceDay" });

/** The public wall screen's document: counts only, never a person. */
export const dayCountsAnswerSchema = z
  .strictObject({
    ...base,
    group: z.string().optional(),
    counts: countsSchema,
    groups: z.record(z.string(), countsSchema).optional(),
  })
  .meta({ id: "AttendanceCounts" });
