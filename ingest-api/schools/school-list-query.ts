import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import {
  cursorSchema,
  decodeCursor,
  type ListPageConfig,
  once,
  pageLimitSchema,
} from "../http/page-cursor.ts";

// The query parameters of GET /v1/schools: keyset pages in id order, a search prefix, and
// whether to add each school's figures (the console's schools view).

/** Longest `q`: a prefix of an id or a name. */
const Q_MAX = 200;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to exclude them
const CONTROL = /[\u0000-\u001f\u007f]/;

const afterId = cursorSchema((cursor) => {
  const parts = decodeCursor(cursor, 1, (id) => idSchema.safeParse(id).success);
  return parts?.[0];
});

/** `GET /v1/schools`, with the configured page sizes. */
export function schoolListQuerySchema(limits: ListPageConfig) {
  return z
    .strictObject({
      limit: pageLimitSchema(limits.pageMax)
        .meta({
          description: `schools per page (LIST_PAGE_DEFAULT, ${limits.pageDefault}; at most LIST_PAGE_MAX, ${limits.pageMax})`,
        })
        .optional(),
      after: afterId.meta({ description: "the `next` of the page before (opaque)" }).optional(),
      q: once("text")
        .trim()
        .max(Q_MAX, { error: `must be at most ${Q_MAX} characters` })
        .refine((s) => !CONTROL.test(s), { error: "must not contain control characters" })
        .meta({ description: "a prefix of the id or of the name, any case" })
        .optional(),
      figures: once('"true" or "false"')
        .pipe(z.enum(["true", "false"], { error: 'must be "true" or "false"' }))
        .meta({ description: "true: each school's polls, open polls, kiosks and votes waiting" })
        .optional(),
    })
    .transform((query) => ({
      limit: query.limit ?? limits.pageDefault,
      after: query.after,
      q: query.q === "" ? undefined : query.q,
      figures: query.figures === "true",
    }));
}

export type SchoolListQuery = z.infer<ReturnType<typeof schoolListQuerySchema>>;
