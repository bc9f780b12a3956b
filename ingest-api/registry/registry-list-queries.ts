import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import {
  cursorSchema,
  decodeCursor,
  isInstantPart,
  type ListPageConfig,
  once,
  pageLimitSchema,
} from "../http/page-cursor.ts";
import { isAttentionPart } from "../kiosks/kiosk-attention.ts";

// The query parameters of GET /v1/polls and GET /v1/kiosks: keyset pages (limit, after),
// the deployment admin's school filter, a search prefix, and for kiosks the order.

/** Longest `q`: a prefix of an id or a title. */
const Q_MAX = 200;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to exclude them
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `?q=`: a prefix of the id (its school's name for it) or of the name, any case. Blank: none. */
const qSchema = once("text")
  .trim()
  .max(Q_MAX, { error: `must be at most ${Q_MAX} characters` })
  .refine((s) => !CONTROL.test(s), { error: "must not contain control characters" })
  .transform((s) => (s === "" ? undefined : s))
  .meta({ description: "a prefix of the id or of the name (title), any case" });

const schoolIdQuery = once("a school id")
  .pipe(idSchema)
  .meta({ description: "the deployment admin's filter: one school (a school admin: its own)" });

/** (created_at to the microsecond, id): the creation-order key. */
const createdAfter = cursorSchema((cursor) => {
  const parts = decodeCursor(cursor, 2, (part, i) =>
    i === 0 ? isInstantPart(part) : /^[A-Za-z0-9_-]{1,128}$/.test(part),
  );
  return parts === undefined ? undefined : ([parts[0]!, parts[1]!] as const);
});

const limitOf = (limits: ListPageConfig) =>
  pageLimitSchema(limits.pageMax).meta({
    description: `rows per page (LIST_PAGE_DEFAULT, ${limits.pageDefault}; at most LIST_PAGE_MAX, ${limits.pageMax})`,
  });

const afterDescription = { description: "the `next` of the page before (opaque)" };

/** `GET /v1/polls`: in creation order. */
export function pollListQuerySchema(limits: ListPageConfig) {
  return z
    .strictObject({
      limit: limitOf(limits).optional(),
      after: createdAfter.meta(afterDescription).optional(),
      schoolId: schoolIdQuery.optional(),
      q: qSchema.optional(),
    })
    .transform((query) => ({
      limit: query.limit ?? limits.pageDefault,
      after: query.after,
      q: query.q,
    }));
}

/** The order of `GET /v1/kiosks`. */
export const kioskSortSchema = z
  .enum(["created", "attention"], { error: 'must be "created" or "attention"' })
  .meta({
    description:
      "created (default): creation order; attention: offline with votes waiting, votes waiting, offline, online, never seen, revoked",
  });

/** `GET /v1/kiosks`: in creation order, or by what needs attention first. */
export function kioskListQuerySchema(limits: ListPageConfig) {
  return z
    .strictObject({
      limit: limitOf(limits).optional(),
      after: once("the `next` of the page before").meta(afterDescription).optional(),
      schoolId: schoolIdQuery.optional(),
      q: qSchema.optional(),
      sort: once('"created" or "attention"').pipe(kioskSortSchema).optional(),
    })
    .transform((query, ctx) => {
      const sort = query.sort ?? "created";
      // The cursor's shape is the order's key: a cursor of the other order is refused.
      const after =
        query.after === undefined
          ? undefined
          : sort === "created"
            ? createdAfter.safeParse(query.after).data
            : decodeCursor(query.after, 4, isAttentionPart);
      if (query.after !== undefined && after === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["after"],
          message: "is not a cursor of this order: pass `next` as answered",
        });
        return z.NEVER;
      }
      return { limit: query.limit ?? limits.pageDefault, q: query.q, sort, after };
    });
}

export type PollListQuery = z.infer<ReturnType<typeof pollListQuerySchema>>;
export type KioskListQuery = z.infer<ReturnType<typeof kioskListQuerySchema>>;
