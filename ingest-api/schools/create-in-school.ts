import { ValidationError } from "../../common/errors.ts";
import type { PoolClient } from "../../common/postgres.ts";
import { DEFAULT_SCHOOL_ID, type School } from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { schoolForCreate } from "./school-store.ts";
import { SCOPED_ID_DRAWS, scopedId } from "./scoped-id.ts";

/**
 * The school a create lands in. The deployment admin names it (`schoolId`, default
 * `default`); a school admin's is its own, and naming another is refused without saying
 * whether that school exists.
 */
export async function schoolOfCreate(
  client: PoolClient,
  scope: SchoolScope,
  requested: string | undefined,
): Promise<School> {
  if (scope !== null && requested !== undefined && requested !== scope)
    throw new ValidationError([
      { field: "schoolId", message: `must be your own school ("${scope}") or absent` },
    ]);
  const id = scope ?? requested ?? DEFAULT_SCHOOL_ID;
  const school = await schoolForCreate(client, id);
  if (school === undefined)
    throw new ValidationError([{ field: "schoolId", message: `no school has the id "${id}"` }]);
  return school;
}

/**
 * Inserts a poll or kiosk under a fresh scoped id (scoped-id.ts), drawing again when a
 * generated id clashes with another row's.
 */
export async function insertWithScopedId<T>(
  schoolId: string,
  slug: string,
  insert: (id: string) => Promise<T | "id_taken">,
): Promise<T> {
  for (let draw = 0; draw < SCOPED_ID_DRAWS; draw++) {
    const outcome = await insert(scopedId(schoolId, slug));
    if (outcome !== "id_taken") return outcome;
  }
  throw new Error(`no free id for "${slug}" in ${SCOPED_ID_DRAWS} draws`);
}
