import { z } from "zod";
import { isLocalDay } from "../../common/attendance/school-day.ts";
import type {
  AttendanceCounts,
  AttendanceCountsDocument,
  AttendanceDayDocument,
  AttendanceLists,
} from "../../common/attendance-contract.ts";
import { ValidationError } from "../../common/errors.ts";
import { toFieldIssues } from "../../common/vote.ts";
import { groupIdSchema } from "../people/people-schemas.ts";
import type { DayAnswer, DayPublication } from "./day-documents.ts";
import { dayLayout, splicedGroupAnswer, splicedSchoolAnswer } from "./day-splices.ts";
import { JsonLayoutError } from "./json-spans.ts";
import type { SchoolNames } from "./roster-names.ts";

// What the day routes answer, made from a kept publication: the query they take, the
// admin's answer (the whole school with each group's counts, or one group's lists; names
// for the school's own admin only) and the public counts answer. Each answer is made once
// per version (DayDocuments.remember), not once per read, and spliced from the stored
// bytes (day-splices.ts), not parsed and written again.

const once = (what: string) => z.string({ error: `must be given once, as ${what}` });

/** `?date=YYYY-MM-DD&group=`: both optional (date: the school's today). */
export const dayQuerySchema = z.strictObject({
  date: once("a date YYYY-MM-DD")
    .refine(isLocalDay, { error: "must be a date YYYY-MM-DD" })
    .optional(),
  group: once("a group id").pipe(groupIdSchema).optional(),
});
export type DayQuery = z.infer<typeof dayQuerySchema>;

/** `?date=` alone: the event stream's filter. */
export const dayEventsQuerySchema = dayQuerySchema.pick({ date: true });

export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const result = schema.safeParse(query ?? {}, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}

const ZERO: Readonly<AttendanceCounts> = Object.freeze({
  roster: 0,
  inNow: 0,
  present: 0,
  absent: 0,
  late: 0,
  fever: 0,
  autoClosed: 0,
  anomalies: 0,
});
const NO_LISTS: Readonly<AttendanceLists> = Object.freeze({
  inNow: [],
  out: [],
  absent: [],
  late: [],
  fever: [],
  autoClosed: [],
  anomalies: [],
});

function dayDocument(p: DayPublication): AttendanceDayDocument {
  p.parsed ??= JSON.parse(p.json.toString("utf8"));
  return p.parsed as AttendanceDayDocument;
}

function countsDocument(p: DayPublication): AttendanceCountsDocument {
  p.parsedCounts ??= JSON.parse(p.counts.toString("utf8"));
  return p.parsedCounts as AttendanceCountsDocument;
}

const answer = (value: unknown, etag: string): DayAnswer => ({
  body: Buffer.from(JSON.stringify(value)),
  etag,
});

const ZERO_JSON = JSON.stringify(ZERO);
const NO_LISTS_JSON = JSON.stringify(NO_LISTS);

/**
 * The admin's answer. Without a group: the day document, each group with its counts only
 * (`?group=` gives a group's lists). With one: that group's counts, lists and details (a
 * group nobody is in: zeros). With `names` (the school's own admin): `names`, each listed
 * id's name or null, and an ETag that changes with them.
 */
export function adminAnswer(
  publication: DayPublication,
  group: string | undefined,
  names: SchoolNames | null,
): DayAnswer {
  const etag =
    names === null ? `"${publication.version}"` : `"${publication.version}-n${names.stamp}"`;
  if (publication.layout === undefined)
    try {
      publication.layout = dayLayout(publication.json);
    } catch (err) {
      if (!(err instanceof JsonLayoutError)) throw err;
      // Not laid out as the publisher writes it: answered by parsing, as it holds.
      publication.layout = null;
    }
  const layout = publication.layout;
  if (layout === null) return parsedAdminAnswer(publication, group, names);
  const body =
    group === undefined
      ? splicedSchoolAnswer(publication.json, layout, names)
      : splicedGroupAnswer(publication.json, layout, group, names, ZERO_JSON, NO_LISTS_JSON);
  return { body, etag };
}

/**
 * adminAnswer by parsing the document and writing the answer: for a document not laid out
 * as the publisher writes it, and the reference day-splices.test.ts holds the splices to.
 */
export function parsedAdminAnswer(
  publication: DayPublication,
  group: string | undefined,
  names: SchoolNames | null,
): DayAnswer {
  const doc = dayDocument(publication);
  const { groups, counts, lists, details, ...meta } = doc;
  let out: Record<string, unknown>;
  let shown: AttendanceLists;
  if (group === undefined) {
    shown = lists;
    out = {
      ...meta,
      counts,
      lists,
      groups: Object.fromEntries(Object.entries(groups).map(([g, s]) => [g, s.counts])),
      details,
    };
  } else {
    const section = groups[group];
    shown = section?.lists ?? NO_LISTS;
    const ids = new Set(Object.values(shown).flat());
    out = {
      ...meta,
      group,
      counts: section?.counts ?? ZERO,
      lists: shown,
      details: Object.fromEntries(Object.entries(details).filter(([id]) => ids.has(id))),
    };
  }
  if (names === null) return answer(out, `"${publication.version}"`);
  const named: Record<string, string | null> = {};
  for (const id of Object.values(shown).flat()) named[id] ??= names.names.get(id) ?? null;
  out.names = named;
  return answer(out, `"${publication.version}-n${names.stamp}"`);
}

/** The public counts answer: the counts document as stored, or one group's counts. */
export function countsAnswer(publication: DayPublication, group: string | undefined): DayAnswer {
  const etag = `"${publication.version}"`;
  if (group === undefined) return { body: publication.counts, etag };
  const { groups, counts: _whole, ...meta } = countsDocument(publication);
  return answer({ ...meta, group, counts: groups[group] ?? ZERO }, etag);
}
