import type { z } from "zod";
import { ValidationError } from "../../common/errors.ts";
import { toFieldIssues } from "../../common/vote.ts";

/** A JSON body checked against its schema: 400 naming each bad field, or the parsed value. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  // reportInput: toFieldIssues tells a missing field from one of the wrong type by the input.
  const result = schema.safeParse(body ?? {}, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}
