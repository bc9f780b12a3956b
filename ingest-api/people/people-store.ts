import type { Pool, PoolClient } from "../../common/postgres.ts";
import {
  changePeopleSql,
  deletePeopleSql,
  lockPeopleSql,
  peopleChanged,
} from "../registry/registry-changes.ts";

// Postgres access for a school's roster (the people table, migration 017): SQL only, the
// rules are people-service.ts's. Every query names its school: the primary key is
// (school_id, id), id ordered bytewise (collate "C"), so one school's page, an id prefix
// and a keyset cursor are each one range of that index whatever the deployment holds.
// Each write that changed rows notifies its school and records its roster change for the
// attendance publishers in its transaction (registry-changes.ts peopleChanged).

type Db = Pool | PoolClient;

/** A person as the API answers it; `name` is null when there is none or the caller may not see it. */
export interface Person {
  schoolId: string;
  id: string;
  name: string | null;
  groups: string[];
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

interface PersonRow {
  school_id: string;
  id: string;
  name: string | null;
  groups: string[];
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = "school_id, id, name, groups, active, created_at, updated_at";
/** COLUMNS of changePeopleSql's written rows. */
const WRITTEN = COLUMNS.split(", ")
  .map((c) => `(w.after_row).${c}`)
  .join(", ");
/** One person, as changePeopleSql's and lockPeopleSql's condition over `p` ($1, $2). */
const ONE = "p.school_id = $1 and p.id = $2";

export function toPerson(row: PersonRow, withName: boolean): Person {
  return {
    schoolId: row.school_id,
    id: row.id,
    name: withName ? row.name : null,
    groups: row.groups,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function getPerson(
  db: Db,
  schoolId: string,
  id: string,
): Promise<PersonRow | undefined> {
  const { rows } = await db.query<PersonRow>(
    `select ${COLUMNS} from people where school_id = $1 and id = $2`,
    [schoolId, id],
  );
  return rows[0];
}

/**
 * Creates or replaces a person. `created` tells which (a row inserted has no xmax). The
 * row's updated_at moves only when something changed.
 */
export async function putPerson(
  client: PoolClient,
  schoolId: string,
  id: string,
  person: { name: string | null; groups: string[]; active: boolean },
): Promise<{ row: PersonRow; created: boolean }> {
  // The row's lock first: the row people_changed is given as before is the one replaced.
  await client.query(lockPeopleSql(ONE), [schoolId, id]);
  const { rows } = await client.query<PersonRow & { created: boolean }>(
    changePeopleSql(
      `insert into people as p (school_id, id, name, groups, active) values ($1, $2, $3, $4, $5)
       on conflict (school_id, id) do update
         set name = excluded.name, groups = excluded.groups, active = excluded.active,
             updated_at = case
               when (p.name, p.groups, p.active) is not distinct from
                    (excluded.name, excluded.groups, excluded.active)
               then p.updated_at else now() end
       returning p as after_row, (p.xmax = 0) as created`,
      ONE,
      `${WRITTEN}, w.created`,
    ),
    [schoolId, id, person.name, person.groups, person.active],
  );
  await peopleChanged(client, [schoolId]);
  const { created, ...row } = rows[0]!;
  return { row, created };
}

/** Changes the fields given (`name: null` removes the name); undefined when there is no such person. */
export async function patchPerson(
  client: PoolClient,
  schoolId: string,
  id: string,
  patch: {
    name?: string | null | undefined;
    groups?: string[] | undefined;
    active?: boolean | undefined;
  },
): Promise<PersonRow | undefined> {
  await client.query(lockPeopleSql(ONE), [schoolId, id]);
  // Every SET expression reads the row as it was: updated_at compares old and new.
  const { rows } = await client.query<PersonRow>(
    changePeopleSql(
      `update people p set
         name = case when $3 then $4::text else p.name end,
         groups = coalesce($5::text[], p.groups),
         active = coalesce($6::boolean, p.active),
         updated_at = case
           when (p.name, p.groups, p.active) is not distinct from
                (case when $3 then $4::text else p.name end, coalesce($5::text[], p.groups),
                 coalesce($6::boolean, p.active))
           then p.updated_at else now() end
       where ${ONE}
       returning p as after_row`,
      ONE,
      WRITTEN,
    ),
    [
      schoolId,
      id,
      patch.name !== undefined,
      patch.name ?? null,
      patch.groups ?? null,
      patch.active ?? null,
    ],
  );
  if (rows.length > 0) await peopleChanged(client, [schoolId]);
  return rows[0];
}

/** Deletes the person's row; false when there was none. */
export async function deletePerson(client: PoolClient, schoolId: string, id: string) {
  const { rowCount } = await client.query(deletePeopleSql(ONE), [schoolId, id]);
  if (rowCount === 1) await peopleChanged(client, [schoolId]);
  return rowCount === 1;
}

/**
 * Rewrites the person's stored events to the pseudonym (migration 017's
 * erase_person_events, run with its owner's rights: the API has none on the writer's
 * tables). Returns the votes rewritten.
 */
export async function erasePersonEvents(
  client: PoolClient,
  schoolId: string,
  id: string,
  pseudonym: string,
): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    "select erase_person_events($1, $2, $3) as n",
    [schoolId, id, pseudonym],
  );
  return Number(rows[0]!.n);
}

/** What a page of the roster is filtered by; `nameLike` only for a caller who may see names. */
export interface PageFilter {
  after: string | undefined;
  /** A LIKE pattern matching ids that start with the search text. */
  idLike: string | undefined;
  /** An ILIKE pattern matching names that contain the search text. */
  nameLike: string | undefined;
  group: string | undefined;
  /** Only the active people (an export). */
  activeOnly: boolean;
}

/**
 * One page in id order, `limit` rows at most. The keyset (`id > after`) keeps a page stable
 * under inserts and costs the same on page 200 as on page 1. An id prefix is a range of the
 * primary key (LIKE on a "C" column, its pattern known when the statement is planned); a
 * name search and a group use people_search_idx (migration 018: the school, the name's
 * trigrams, the groups), or the planner walks the school's range when they match many.
 */
export async function listPeople(
  db: Db,
  schoolId: string,
  filter: PageFilter,
  limit: number,
): Promise<PersonRow[]> {
  const where = ["school_id = $1"];
  const params: unknown[] = [schoolId];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.after !== undefined) where.push(`id > ${param(filter.after)}`);
  if (filter.idLike !== undefined && filter.nameLike !== undefined)
    where.push(
      `(id like ${param(filter.idLike)} escape '\\' or name ilike ${param(filter.nameLike)} escape '\\')`,
    );
  else if (filter.idLike !== undefined) where.push(`id like ${param(filter.idLike)} escape '\\'`);
  if (filter.group !== undefined) where.push(`groups @> array[${param(filter.group)}::text]`);
  if (filter.activeOnly) where.push("active");
  const { rows } = await db.query<PersonRow>(
    `select ${COLUMNS} from people where ${where.join(" and ")} order by id limit ${param(limit)}`,
    params,
  );
  return rows;
}

/** The rows of an import, as parallel arrays (one statement for the whole file). */
export interface ImportRows {
  ids: string[];
  /** null: the row gave no name (a new person has none, an existing one keeps theirs). */
  names: (string | null)[];
  groups: string[][];
}

/**
 * Upserts every row in one statement: the rows travel as arrays (unnest), so 10,000 rows
 * are one round trip and one statement, and the school is notified once (if a row changed).
 * A row sets the person active. A row that changes nothing is not written (its updated_at
 * stays), and is counted by the caller as unchanged.
 */
export async function upsertPeople(
  client: PoolClient,
  schoolId: string,
  rows: ImportRows,
): Promise<{ created: number; updated: number }> {
  if (rows.ids.length === 0) return { created: 0, updated: 0 };
  // Group ids cannot hold a comma (the id pattern): each row's groups travel as one string.
  const groups = rows.groups.map((g) => g.join(","));
  // The rows' locks first (key order): the rows people_changed is given as before are the
  // ones written over.
  const existing = "p.school_id = $1 and p.id = any($2::text[])";
  await client.query(lockPeopleSql(existing), [schoolId, rows.ids]);
  const { rows: counts } = await client.query<{ created: number; updated: number }>(
    changePeopleSql(
      `insert into people as p (school_id, id, name, groups, active)
       select $1, u.id, u.name, coalesce(string_to_array(nullif(u.groups, ''), ','), '{}'), true
       from unnest($2::text[], $3::text[], $4::text[]) as u(id, name, groups)
       on conflict (school_id, id) do update
         set name = coalesce(excluded.name, p.name), groups = excluded.groups, active = true,
             updated_at = now()
         where (p.name, p.groups, p.active) is distinct from
               (coalesce(excluded.name, p.name), excluded.groups, true)
       returning p as after_row, (p.xmax = 0) as created`,
      existing,
      `(count(*) filter (where w.created))::int as created,
       (count(*) filter (where not w.created))::int as updated`,
    ),
    [schoolId, rows.ids, rows.names, groups],
  );
  const { created, updated } = counts[0]!;
  if (created + updated > 0) await peopleChanged(client, [schoolId]);
  return { created, updated };
}

/** Deactivates the school's active people whose id is not in `keep`; returns how many. */
export async function deactivateOthers(
  client: PoolClient,
  schoolId: string,
  keep: string[],
): Promise<number> {
  // NOT IN over the array: one hashed set, whatever the planner thinks the school holds
  // (a school filled by this very import has no statistics yet).
  const leaving = "p.school_id = $1 and p.active and p.id not in (select unnest($2::text[]))";
  await client.query(lockPeopleSql(leaving), [schoolId, keep]);
  const { rowCount } = await client.query(
    changePeopleSql(
      `update people p set active = false, updated_at = now() where ${leaving}
       returning p as after_row`,
      leaving,
    ),
    [schoolId, keep],
  );
  if ((rowCount ?? 0) > 0) await peopleChanged(client, [schoolId]);
  return rowCount ?? 0;
}
