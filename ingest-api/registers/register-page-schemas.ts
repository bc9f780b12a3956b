import { z } from "zod";
import { instantAnswerSchema } from "../registry/registry-schemas.ts";

// What the register page's routes take and answer (docs/registers.md, "The register page"):
// a teacher's sign-in link and its exchange, the teacher's day, a register's roster. One
// source for the routes' validation, /openapi.json (register-page-openapi.ts) and the tests.

/** `POST /v1/teachers/sign-in`: the code of a sign-in link (its `#code=` fragment). */
export const teacherSignInSchema = z.strictObject({
  code: z
    .string({ error: "must be a string" })
    .min(1, { error: "must not be empty" })
    .max(200, { error: "must be at most 200 characters" }),
});

export const signInLinkAnswerSchema = z.strictObject({
  teacherId: z.string(),
  schoolId: z.string(),
  link: z.string().meta({
    description:
      "`<PUBLIC_URL or the request's origin>/register#code=…`: single use, the code in the fragment (never sent to a server)",
  }),
  expiresAt: instantAnswerSchema,
});

export const signedInTeacherAnswerSchema = z.strictObject({
  teacherId: z.string(),
  schoolId: z.string(),
  label: z.string(),
  token: z.string().meta({
    description: "`tft_…`, shown this once; the teacher's previous token stops working",
  }),
});

const registerSummary = z.strictObject({
  id: z.string(),
  title: z.string(),
  groupId: z.string(),
  startsAt: instantAnswerSchema,
  endsAt: instantAnswerSchema,
});

export const teacherDayAnswerSchema = z
  .strictObject({
    teacherId: z.string(),
    schoolId: z.string(),
    label: z.string(),
    day: z.iso.date().meta({ description: "today in the school's time zone" }),
    registers: z.array(registerSummary).meta({
      description:
        "the school's registers (not archived) starting today, by start then title; at most TEACHER_DAY_MAX_REGISTERS",
    }),
    more: z.boolean().meta({
      description: "true when the day holds more registers than TEACHER_DAY_MAX_REGISTERS listed",
    }),
  })
  .meta({ id: "TeacherDay" });

export const registerRosterAnswerSchema = z
  .strictObject({
    pollId: z.string(),
    schoolId: z.string(),
    groupId: z.string(),
    title: z.string(),
    startsAt: instantAnswerSchema,
    endsAt: instantAnswerSchema,
    people: z
      .array(z.strictObject({ id: z.string(), name: z.string().nullable() }))
      .meta({ description: "the group's active members now, by name then id" }),
  })
  .meta({ id: "RegisterRoster" });
