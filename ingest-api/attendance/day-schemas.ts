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
  rules: z.strictObject({
    dayEndsAt: z.string(),
    minPresentMinutes: z.number(),
    lateAfter: z.string().nullable(),
    feverThresholdC: z.number(),
  }),
};

const ids = z.array(z.string());
const listsSchema = z.strictObject({
  inNow: ids,
  out: ids,
  absent: ids,
  late: ids,
  fever: ids,
  autoClosed: ids,
  anomalies: ids,
});

/** What a person's flags rest on, for each person in a flag list. */
const detailSchema = z.strictObject({
  firstIn: z.iso.datetime({ offset: true }).optional(),
  maxTemperatureC: z.number().nullable().optional(),
  anomalies: z.int().optional(),
});

/** The lists and details of people, by id; `names` only for the school's own admin. */
export const dayDocumentAnswerSchema = z
  .strictObject({
    ...base,
    group: z.string().optional(),
    counts: countsSchema,
    lists: listsSchema,
    groups: z
      .record(z.string(), countsSchema)
      .optional()
      .meta({ description: "each group's counts; absent with `?group=`" }),
    details: z.record(z.string(), detailSchema),
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
