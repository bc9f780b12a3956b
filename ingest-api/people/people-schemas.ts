import { z } from "zod";
import { idSchema, voterIdSchema } from "../../common/vote.ts";

// What the people API takes: bodies, query parameters, and the fields a roster CSV row
// holds (roster-csv.ts checks a row with these same schemas). Validation messages are what
// an admin reads; none of them repeats the value it refuses, so a name never appears in an
// answer's error (nor, through it, in a log).

/** A person's id: the badge or student number a kiosk sends as voterId, in its normal form. */
export const personIdSchema = voterIdSchema;

/** Most groups a person may be in (the people.groups check of migration 017). */
export const PERSON_GROUPS_MAX = 50;
/** Longest name, in characters (the people.name check of migration 017). */
export const PERSON_NAME_MAX = 200;

// Printable text: a name never holds a control character (a line break in a CSV cell, NUL,
// which Postgres text cannot hold) nor text Postgres would store otherwise than sent.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to exclude them
const CONTROL = /[\u0000-\u001f\u007f]/;

export const personNameSchema = z
  .string({ error: "must be a string or null" })
  .trim()
  .normalize("NFC")
  .min(1, { error: "must not be empty (null for no name)" })
  .max(PERSON_NAME_MAX, { error: `must be at most ${PERSON_NAME_MAX} characters` })
  .refine((s) => !CONTROL.test(s), { error: "must not contain control characters" })
  .refine((s) => s.isWellFormed() && !s.includes("\ufffd"), {
    error: "must be valid UTF-8 text (no lone surrogate, no U+FFFD replacement character)",
  });

/** A group id, e.g. a class: the id pattern, so that `?group=` and the CSV need no quoting. */
export const groupIdSchema = idSchema;

export const groupsSchema = z
  .array(groupIdSchema, { error: "must be an array of group ids" })
  .max(PERSON_GROUPS_MAX, { error: `must hold at most ${PERSON_GROUPS_MAX} groups` })
  .refine((groups) => new Set(groups).size === groups.length, {
    error: "must not repeat a group",
  });

const activeSchema = z.boolean({ error: "must be true or false" });

/** `PUT …/people/:personId`: the whole person (what is left out takes its default). */
export const putPersonSchema = z.strictObject({
  name: personNameSchema.nullable(),
  groups: groupsSchema.optional(),
  active: activeSchema.optional(),
});
export type PutPerson = z.infer<typeof putPersonSchema>;

/** `PATCH …/people/:personId`: what is given changes; `name: null` removes the name. */
export const patchPersonSchema = z.strictObject({
  name: personNameSchema.nullable().optional(),
  groups: groupsSchema.optional(),
  active: activeSchema.optional(),
});
export type PatchPerson = z.infer<typeof patchPersonSchema>;

/** How an import treats the people a file leaves out: kept (`upsert`) or deactivated. */
export const importModeSchema = z.enum(["upsert", "replace"], {
  error: 'must be "upsert" (keep the people the file leaves out) or "replace" (deactivate them)',
});
export type ImportMode = z.infer<typeof importModeSchema>;

/** The query of `GET …/people` once parsed: `after` decoded, `q` in the ids' normal form. */
export interface PeopleQuery {
  limit: number;
  after: string | undefined;
  q: string | undefined;
  group: string | undefined;
}

/** Longest `q`: an id prefix is at most an id. */
const Q_MAX = 128;

/**
 * A page cursor: the last id of the page before, base64url (RFC 4648 §5, unpadded). Opaque
 * to clients; decoded strictly (it must encode back to itself and hold a person id in its
 * normal form), so a hand-edited cursor is a 400, never a page from the wrong place.
 */
export const encodeCursor = (id: string): string => Buffer.from(id, "utf8").toString("base64url");

function decodeCursor(cursor: string): string | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const bytes = Buffer.from(cursor, "base64url");
  if (bytes.toString("base64url") !== cursor) return undefined;
  const id = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  const parsed = personIdSchema.safeParse(id);
  return parsed.success && parsed.data === id ? id : undefined;
}

/** A query parameter given once (`?a=1&a=2` is an array, refused with this message). */
export const once = (what: string) => z.string({ error: `must be given once, as ${what}` });

/** `?limit=`: a page size from 1 to `pageMax` (the pages of people and of attendance). */
export const pageLimitSchema = (pageMax: number) =>
  once("a whole number")
    .regex(/^\d{1,6}$/, { error: `must be a whole number from 1 to ${pageMax}` })
    .transform(Number)
    .refine((n) => n >= 1 && n <= pageMax, {
      error: `must be a whole number from 1 to ${pageMax}`,
    });

/** `?after=`: the `next` of the page before, decoded to the last person id of that page. */
export const pageAfterSchema = once("the `next` of the page before").transform((cursor, ctx) => {
  const id = decodeCursor(cursor);
  if (id === undefined)
    ctx.addIssue({ code: "custom", message: "is not a cursor: pass `next` as answered" });
  return id ?? "";
});

/** The query schema of `GET …/people`, with the configured page sizes. */
export function peopleQuerySchema(limits: { pageDefault: number; pageMax: number }) {
  return z
    .strictObject({
      limit: pageLimitSchema(limits.pageMax).optional(),
      after: pageAfterSchema.optional(),
      // Empty = absent: a search box submitted blank lists everyone.
      q: once("text")
        .trim()
        .normalize("NFC")
        .max(Q_MAX, { error: `must be at most ${Q_MAX} characters` })
        .refine((s) => !CONTROL.test(s), { error: "must not contain control characters" })
        .optional(),
      group: once("a group id").pipe(groupIdSchema).optional(),
    })
    .transform(
      (query): PeopleQuery => ({
        limit: query.limit ?? limits.pageDefault,
        after: query.after,
        q: query.q === "" ? undefined : query.q,
        group: query.group,
      }),
    );
}

/** The query of `POST …/people/import`. */
export const importQuerySchema = z.strictObject({
  mode: z
    .string({ error: "must be given once" })
    .pipe(importModeSchema)
    .optional()
    .transform((mode) => mode ?? "upsert"),
  // A preview: the console shows what a file would do, and its bad rows, before it is applied.
  dryRun: z
    .string({ error: "must be given once" })
    .pipe(
      z.enum(["true", "false"], {
        error: 'must be "true" (a preview: the same answer, nothing written) or "false"',
      }),
    )
    .optional()
    .transform((dryRun) => dryRun === "true"),
});

// Answers of the people API.

const instantAnswer = z.iso.datetime({ offset: true });

export const personAnswerSchema = z
  .strictObject({
    schoolId: z.string(),
    id: z.string(),
    name: z.string().nullable().meta({ description: "for the school's own admin only" }),
    groups: z.array(z.string()),
    active: z.boolean(),
    createdAt: instantAnswer,
    updatedAt: instantAnswer,
  })
  .meta({ id: "Person" });

export const peoplePageAnswerSchema = z.strictObject({
  items: z.array(personAnswerSchema),
  next: z.string().nullable().meta({ description: "the `after` of the next page; null: the last" }),
});

export const erasureAnswerSchema = z.strictObject({
  erased: z.literal(true),
  id: z.string(),
  pseudonym: z.string(),
  eventsRewritten: z.int(),
});

export const importAnswerSchema = z.strictObject({
  mode: importModeSchema,
  rows: z.int(),
  created: z.int(),
  updated: z.int(),
  unchanged: z.int(),
  deactivated: z.int().optional(),
  dryRun: z
    .literal(true)
    .optional()
    .meta({ description: "a preview (`?dryRun=true`): what the import would do; nothing written" }),
  errorCount: z.int(),
  errors: z.array(z.strictObject({ line: z.int(), field: z.string(), message: z.string() })),
});
