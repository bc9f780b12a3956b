import { randomBytes } from "node:crypto";
import { AppError, NotFoundError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import { type Pool, type PoolClient, withTransaction } from "../../common/postgres.ts";
import { actsFor, type SchoolScope } from "../auth/actor.ts";
import type { PeopleConfig } from "../config.ts";
import { getSchool, schoolForCreate, schoolNotFound } from "../schools/school-store.ts";
import {
  encodeCursor,
  type ImportMode,
  type PatchPerson,
  type PeopleQuery,
  type PutPerson,
} from "./people-schemas.ts";
import type { Person } from "./people-store.ts";
import * as store from "./people-store.ts";
import { parseRoster, type RosterRecord, type RowError } from "./roster-csv.ts";

/**
 * Whether the caller sees the names of this school's people: only the school's own admin.
 * Names are personal data; the deployment admin may write them (an import, a PUT) but reads
 * `name: null` and exports an empty name column, and searches ids only.
 */
export function seesNames(scope: SchoolScope, schoolId: string): boolean {
  return scope !== null && scope === schoolId;
}

/** The answer to `GET …/people`: a page, and the cursor of the next one (null: the last). */
export interface PeoplePage {
  items: Person[];
  next: string | null;
}

/** The answer to `DELETE …/people/:personId`. */
export interface Erasure {
  erased: true;
  id: string;
  /** The voter id the person's stored events now carry. */
  pseudonym: string;
  /** Votes rewritten to the pseudonym (still counted: totals do not change). */
  eventsRewritten: number;
}

/** The answer to `POST …/people/import`. */
export interface ImportResult {
  mode: ImportMode;
  /** Rows read after the header, good and bad. */
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  /** replace mode: the active people the file left out, now inactive. */
  deactivated?: number;
  /** A preview: the counts are what the import would do; nothing was written. */
  dryRun?: true;
  /** Every row error (errors lists the first PEOPLE_IMPORT_MAX_ERRORS of them). */
  errorCount: number;
  errors: RowError[];
}

export interface PeopleServiceDeps {
  pool: Pool;
  limits: PeopleConfig;
  logger: Logger;
}

export const personNotFound = (schoolId: string, id: string) =>
  new NotFoundError("person_not_found", `school "${schoolId}" has no person "${id}"`);

/** LIKE's wildcards and its escape character, escaped: the text matches as written. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The roster's rules: who sees names, what an import does with a file, what erasing a person
 * keeps. Another school's people answer exactly as a school that does not exist (404
 * `school_not_found`, before any query). Postgres errors leave here without the row data
 * Postgres puts in their detail ("Failing row contains …", a name among it), since the
 * error middleware logs what it cannot answer.
 */
export class PeopleService {
  readonly #pool: Pool;
  readonly #limits: PeopleConfig;
  readonly #logger: Logger;

  constructor(deps: PeopleServiceDeps) {
    this.#pool = deps.pool;
    this.#limits = deps.limits;
    this.#logger = deps.logger;
  }

  async getPerson(schoolId: string, id: string, scope: SchoolScope): Promise<Person> {
    inScope(scope, schoolId);
    return withoutRowData(async () => {
      const row = await store.getPerson(this.#pool, schoolId, id);
      if (row === undefined) throw await this.#missing(schoolId, id, scope);
      return store.toPerson(row, seesNames(scope, schoolId));
    });
  }

  /** Creates or replaces the person: `created` says which (201 or 200). */
  async putPerson(
    schoolId: string,
    id: string,
    input: PutPerson,
    scope: SchoolScope,
  ): Promise<{ person: Person; created: boolean }> {
    inScope(scope, schoolId);
    return withoutRowData(() =>
      withTransaction(this.#pool, async (client) => {
        // Key-share locked: the school cannot be deleted under the insert.
        if ((await schoolForCreate(client, schoolId)) === undefined) throw schoolNotFound(schoolId);
        const { row, created } = await store.putPerson(client, schoolId, id, {
          name: input.name,
          groups: input.groups ?? [],
          active: input.active ?? true,
        });
        return { person: store.toPerson(row, seesNames(scope, schoolId)), created };
      }),
    );
  }

  async patchPerson(
    schoolId: string,
    id: string,
    patch: PatchPerson,
    scope: SchoolScope,
  ): Promise<Person> {
    inScope(scope, schoolId);
    return withoutRowData(async () => {
      const row = await withTransaction(this.#pool, (client) =>
        store.patchPerson(client, schoolId, id, patch),
      );
      if (row === undefined) throw await this.#missing(schoolId, id, scope);
      return store.toPerson(row, seesNames(scope, schoolId));
    });
  }

  /**
   * Erases a person: their row goes (the name with it), and every event stored under their
   * id is rewritten to a fresh pseudonym in the same transaction, so totals do not change
   * and nothing links those events to the id any more.
   */
  async erasePerson(schoolId: string, id: string, scope: SchoolScope): Promise<Erasure> {
    inScope(scope, schoolId);
    const pseudonym = `erased-${randomBytes(12).toString("base64url")}`;
    const eventsRewritten = await withoutRowData(() =>
      withTransaction(this.#pool, async (client) => {
        if (!(await store.deletePerson(client, schoolId, id)))
          throw await this.#missing(schoolId, id, scope);
        return store.erasePersonEvents(client, schoolId, id, pseudonym);
      }),
    );
    // The school and the count only: the id is what was erased.
    this.#logger.info({ schoolId, eventsRewritten }, "person erased");
    return { erased: true, id, pseudonym, eventsRewritten };
  }

  /** A page of the roster in id order; `q` searches names only for who may see them. */
  async listPeople(schoolId: string, query: PeopleQuery, scope: SchoolScope): Promise<PeoplePage> {
    inScope(scope, schoolId);
    const names = seesNames(scope, schoolId);
    const q = query.q === undefined ? undefined : escapeLike(query.q);
    return withoutRowData(async () => {
      // One row more than the page: whether there is a next page, without a count.
      const rows = await store.listPeople(
        this.#pool,
        schoolId,
        {
          after: query.after,
          idLike: q === undefined ? undefined : `${q}%`,
          nameLike: q === undefined || !names ? undefined : `%${q}%`,
          group: query.group,
          activeOnly: false,
        },
        query.limit + 1,
      );
      // An empty page of a school that does not exist is its 404 (a row proves it exists).
      if (rows.length === 0) await getSchool(this.#pool, schoolId, scope);
      const page = rows.slice(0, query.limit);
      return {
        items: page.map((row) => store.toPerson(row, names)),
        next: rows.length > query.limit ? encodeCursor(page.at(-1)!.id) : null,
      };
    });
  }

  /**
   * Imports a roster file: every good row upserted (and made active) in one statement, in
   * one transaction with replace mode's deactivation, so a school's roster changes at once
   * and its known-people set is told once. A bad row is an error on its line and keeps no
   * other row out; a file that cannot be read is refused whole before anything is written.
   * A dry run does the very same statements and rolls them back: its counts are the
   * import's own (no second copy of the upsert's rules to drift), and a rolled-back
   * transaction sends no notification.
   */
  async importRoster(
    schoolId: string,
    body: Buffer,
    mode: ImportMode,
    scope: SchoolScope,
    dryRun = false,
  ): Promise<ImportResult> {
    inScope(scope, schoolId);
    // A missing school is a 404 before the file is read.
    await getSchool(this.#pool, schoolId, scope);
    const roster = await parseRoster(body, this.#limits.importMaxRows);
    const { rows } = roster;
    const transaction = dryRun ? withRolledBackTransaction : withTransaction;
    const { created, updated, deactivated } = await withoutRowData(() =>
      transaction(this.#pool, async (client) => {
        await oneImportAtATime(client, schoolId);
        if ((await schoolForCreate(client, schoolId)) === undefined) throw schoolNotFound(schoolId);
        const written = await store.upsertPeople(client, schoolId, {
          ids: rows.map((r) => r.id),
          names: rows.map((r) => r.name),
          groups: rows.map((r) => r.groups),
        });
        const deactivated =
          mode === "replace"
            ? await store.deactivateOthers(client, schoolId, [...roster.ids])
            : undefined;
        return { ...written, deactivated };
      }),
    );
    const result: ImportResult = {
      mode,
      rows: roster.dataRows,
      created,
      updated,
      unchanged: rows.length - created - updated,
      ...(deactivated === undefined ? {} : { deactivated }),
      ...(dryRun ? { dryRun: true as const } : {}),
      errorCount: roster.errors.length,
      errors: roster.errors.slice(0, this.#limits.importMaxErrors),
    };
    const { errors: _listed, ...counts } = result;
    this.#logger.info(
      { schoolId, ...counts },
      dryRun ? "roster import previewed" : "roster imported",
    );
    return result;
  }

  /**
   * The school's active people for an export, in id order, read in keyset chunks so that a
   * roster of any size streams in bounded memory. Checks the school before the first row,
   * so that a 404 is still an answer of its own.
   */
  async exportRoster(
    schoolId: string,
    scope: SchoolScope,
  ): Promise<AsyncGenerator<RosterRecord[]>> {
    inScope(scope, schoolId);
    await getSchool(this.#pool, schoolId, scope);
    const names = seesNames(scope, schoolId);
    const pool = this.#pool;
    const chunk = this.#limits.exportChunkRows;
    return (async function* () {
      let after: string | undefined;
      for (;;) {
        const rows = await withoutRowData(() =>
          store.listPeople(
            pool,
            schoolId,
            { after, idLike: undefined, nameLike: undefined, group: undefined, activeOnly: true },
            chunk,
          ),
        );
        if (rows.length === 0) return;
        yield rows.map((r) => ({ id: r.id, name: names ? r.name : null, groups: r.groups }));
        if (rows.length < chunk) return;
        after = rows.at(-1)!.id;
      }
    })();
  }

  /** Why a person was not found: no such school (404 school_not_found), or no such person. */
  async #missing(schoolId: string, id: string, scope: SchoolScope): Promise<Error> {
    await getSchool(this.#pool, schoolId, scope);
    return personNotFound(schoolId, id);
  }
}

/**
 * One import or preview of a school's roster at a time, across API instances (a lock held to
 * the transaction's end). Two at once lock the same people in their files' orders and
 * replace mode's deactivation in another: Postgres broke the deadlock with a 500 after
 * seconds. A second one is refused at once rather than queued: queued, each waiting request
 * would hold a connection of the pool every route shares.
 */
async function oneImportAtATime(client: PoolClient, schoolId: string): Promise<void> {
  const { rows } = await client.query<{ locked: boolean }>(
    "select pg_try_advisory_xact_lock(hashtextextended('tallyflow people import ' || $1, 0)) as locked",
    [schoolId],
  );
  if (!rows[0]!.locked)
    throw new AppError(
      409,
      "people_import_running",
      `another import or preview of school "${schoolId}"'s roster is running: send the file again when it is done`,
    );
}

/** Another school than the caller's: the 404 of a school that does not exist. */
function inScope(scope: SchoolScope, schoolId: string): void {
  if (!actsFor(scope, schoolId)) throw schoolNotFound(schoolId);
}

/**
 * A transaction that is always rolled back: `work`'s statements run (their locks, their
 * counts) and leave nothing behind.
 */
async function withRolledBackTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    return await work(client);
  } finally {
    await client.query("rollback").catch(() => undefined);
    client.release();
  }
}

/** Postgres error fields that quote row data (a name among it); the rest is kept. */
const ROW_DATA_FIELDS = ["detail", "where", "internalQuery"] as const;

async function withoutRowData<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (typeof err === "object" && err !== null && "severity" in err)
      for (const field of ROW_DATA_FIELDS) delete (err as Record<string, unknown>)[field];
    throw err;
  }
}
