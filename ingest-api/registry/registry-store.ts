import { createHash, randomBytes } from "node:crypto";
import { ConflictError, NotFoundError } from "../../common/errors.ts";
import { type Pool, type PoolClient, pgCode, pgConstraint } from "../../common/postgres.ts";
import type {
  Kiosk,
  Poll,
  PollKind,
  PollOption,
  PollVoters,
  ResultsVisibility,
  School,
} from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { likePrefix } from "../http/page-cursor.ts";
import {
  loadSchoolAdminCredentials,
  loadSchools,
  type SchoolAdminCredential,
} from "../schools/school-store.ts";
import { deletePolls, notifyRegistryRows, pollsInserted, updatePolls } from "./registry-changes.ts";
import type { CreateKiosk, CreatePoll, UpdateKiosk, UpdatePoll } from "./registry-schemas.ts";

// Postgres access for the registry: SQL only. The rules (what may change once a poll has
// votes, when a poll may be deleted) and the side effects of a change are the service's
// (registry-service.ts), which runs the functions taking a client in its transactions.
// Each function writing registry rows notifies the other processes in that transaction, and
// a poll's insert and delete do what goes with them there too (registry-changes.ts,
// migration 052).

interface PollRow {
  id: string;
  school_id: string;
  slug: string;
  kind: PollKind;
  group_ids: string[] | null;
  voters: PollVoters;
  title: string;
  time_zone: string;
  opens_at: Date | null;
  closes_at: Date | null;
  starts_at: Date | null;
  ends_at: Date | null;
  results_visibility: ResultsVisibility;
  one_vote_per_voter: boolean;
  vote_cooldown_ms: number;
  archived_at: Date | null;
  created_at: Date;
  updated_at: Date;
  incarnation: number;
  options: PollOption[] | null;
}

const POLL_SELECT = `
  select p.*, (
    select json_agg(json_build_object('id', o.id, 'label', o.label, 'position', o.position)
                    order by o.position)
    from poll_options o where o.poll_id = p.id
  ) as options
  from polls p`;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

function toPoll(row: PollRow): Poll {
  const poll = basePoll(row);
  if (row.kind !== "register") return poll;
  return {
    ...poll,
    groupId: row.group_ids![0]!,
    startsAt: row.starts_at!.toISOString(),
    endsAt: row.ends_at!.toISOString(),
  };
}

function basePoll(row: PollRow): Poll {
  return {
    id: row.id,
    schoolId: row.school_id,
    slug: row.slug,
    kind: row.kind,
    groupIds: row.group_ids,
    title: row.title,
    timeZone: row.time_zone,
    opensAt: iso(row.opens_at),
    closesAt: iso(row.closes_at),
    resultsVisibility: row.results_visibility,
    oneVotePerVoter: row.one_vote_per_voter,
    voteCooldownMs: row.vote_cooldown_ms,
    voters: row.voters,
    archived: row.archived_at !== null,
    archivedAt: iso(row.archived_at),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    options: row.options ?? [],
  };
}

/** A page of an admin list in creation order: the filters, and the key of the page before. */
export interface CreatedPageFilter {
  scope: SchoolScope;
  /** An id or name prefix (case-insensitive on the name or title). */
  q: string | undefined;
  /** The (created_at, id) of the last row of the page before, created_at to the microsecond. */
  after: readonly [string, string] | undefined;
}

/** created_at as its cursor part: to the microsecond, which toISOString would cut. */
const CREATED_KEY = (alias: string) =>
  `to_char(${alias}.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_key`;

/**
 * The where clause of a creation-order page: one range of (school_id, created_at, id), or
 * of (created_at, id) for every school (indexes of migration 028), `q` a filter on it.
 */
function createdPageWhere(alias: string, nameColumn: string, f: CreatedPageFilter) {
  const where: string[] = [];
  const args: unknown[] = [];
  const param = (value: unknown) => `$${args.push(value)}`;
  if (f.scope !== null) where.push(`${alias}.school_id = ${param(f.scope)}`);
  if (f.q !== undefined) {
    const prefix = param(likePrefix(f.q));
    where.push(
      `(${alias}.slug like ${prefix} escape '\\' or lower(${alias}.${nameColumn}) like lower(${prefix}) escape '\\')`,
    );
  }
  if (f.after !== undefined)
    where.push(
      `(${alias}.created_at, ${alias}.id) > (${param(f.after[0])}::timestamptz, ${param(f.after[1])})`,
    );
  return { where: where.length > 0 ? `where ${where.join(" and ")}` : "", args, param };
}

/** `limit` polls in creation order after the key, with each one's cursor key. */
export async function listPolls(
  db: Pool | PoolClient,
  filter: CreatedPageFilter,
  limit: number,
): Promise<(Poll & { createdKey: string })[]> {
  const { where, args, param } = createdPageWhere("p", "title", filter);
  const { rows } = await db.query<PollRow & { created_key: string }>(
    `${POLL_SELECT.replace("select p.*,", `select p.*, ${CREATED_KEY("p")},`)}
     ${where} order by p.created_at, p.id limit ${param(limit)}`,
    args,
  );
  return rows.map((r) => ({ ...toPoll(r), createdKey: r.created_key }));
}

const pollNotFound = (id: string) =>
  new NotFoundError("poll_not_found", `poll "${id}" does not exist`);

/** The poll, if the scope may see it: another school's poll is the same 404 as a missing one. */
export async function getPoll(
  db: Pool | PoolClient,
  id: string,
  scope: SchoolScope,
): Promise<Poll> {
  const { rows } = await db.query<PollRow>(
    `${POLL_SELECT} where p.id = $1 and ($2::text is null or p.school_id = $2)`,
    [id, scope],
  );
  if (rows.length === 0) throw pollNotFound(id);
  return toPoll(rows[0]!);
}

/** Adds the options, or relabels and reorders those that exist, in the order given. */
export async function putOptions(
  client: PoolClient,
  pollId: string,
  options: { id: string; label: string }[],
): Promise<void> {
  await client.query(
    `insert into poll_options (poll_id, id, label, position)
     select $1, o.id, o.label, o.position
     from unnest($2::text[], $3::text[]) with ordinality as o(id, label, position)
     on conflict (poll_id, id) do update set label = excluded.label, position = excluded.position`,
    [pollId, options.map((o) => o.id), options.map((o) => o.label)],
  );
  await notifyRegistryRows(client, "poll_options", [pollId]);
}

export async function deleteOptions(
  client: PoolClient,
  pollId: string,
  optionIds: string[],
): Promise<void> {
  await client.query("delete from poll_options where poll_id = $1 and id = any($2)", [
    pollId,
    optionIds,
  ]);
  await notifyRegistryRows(client, "poll_options", [pollId]);
}

/**
 * Inserts the poll row (options apart) under `id` in `schoolId`, its slug the create's id.
 * "id_taken" when another poll has the id (a generated one is drawn again); a slug the
 * school uses already is 409 poll_exists.
 */
export async function insertPoll(
  client: PoolClient,
  id: string,
  schoolId: string,
  timeZone: string,
  input: CreatePoll,
): Promise<"inserted" | "id_taken"> {
  try {
    await client.query("savepoint insert_poll");
    await client.query(
      `insert into polls (id, school_id, slug, title, time_zone, opens_at, closes_at,
                          results_visibility, one_vote_per_voter, vote_cooldown_ms, voters,
                          kind, group_ids, starts_at, ends_at)
       values ($1, $9, $10, $2, $3, $4, $5, $6, $7, coalesce($8, 2000), $11, $12, $13, $14, $15)`,
      [
        id,
        input.title,
        timeZone,
        input.opensAt ?? null,
        input.closesAt ?? null,
        input.resultsVisibility ?? "live",
        input.oneVotePerVoter ?? false,
        input.voteCooldownMs ?? null,
        schoolId,
        input.id,
        input.voters ?? (input.kind === undefined || input.kind === "vote" ? "any" : "roster"),
        input.kind ?? "vote",
        input.kind === "register" ? [input.groupId] : (input.groupIds ?? null),
        input.startsAt ?? null,
        input.endsAt ?? null,
      ],
    );
    // Refused while the id's purge is pending; its notification is undone with the
    // savepoint, as the insert is (a notification belongs to its subtransaction).
    await pollsInserted(client, [id]);
    await client.query("release savepoint insert_poll");
    return "inserted";
  } catch (err) {
    if (pgCode(err) !== "23505") throw err;
    await client.query("rollback to savepoint insert_poll");
    const constraint = pgConstraint(err);
    // A deleted poll's id stays taken until its votes are purged (migration 031).
    if ((constraint === "polls_pkey" || constraint === "poll_purges_pkey") && id !== input.id)
      return "id_taken";
    if (constraint === "poll_purges_pkey")
      throw new ConflictError(
        "poll_purge_pending",
        `poll "${input.id}" was deleted and its votes are still being removed: create it again in a few minutes`,
      );
    throw new ConflictError("poll_exists", `poll "${input.id}" already exists`);
  }
}

export async function pollHasVotes(db: Pool | PoolClient, pollId: string): Promise<boolean> {
  const { rows } = await db.query<{ has: boolean }>(
    // A function of migration 016: the API's role may not read votes itself.
    "select poll_has_votes($1) as has",
    [pollId],
  );
  return rows[0]!.has;
}

/**
 * The poll, its row locked until the transaction ends: two changes of one poll apply one
 * after the other, and a delete waits for a batch being written for it (the writer holds
 * a key-share lock on the row), so no vote commits between the checks and the change.
 */
export async function lockPoll(
  client: PoolClient,
  id: string,
  scope: SchoolScope,
): Promise<RegistryPoll> {
  const { rows } = await client.query<PollRow>(
    `${POLL_SELECT} where p.id = $1 and ($2::text is null or p.school_id = $2) for update of p`,
    [id, scope],
  );
  if (rows.length === 0) throw pollNotFound(id);
  return { ...toPoll(rows[0]!), incarnation: rows[0]!.incarnation };
}

/**
 * Writes the fields the patch has (options apart); an absent field keeps its value. The
 * poll is notified and, a register whose document shows a field changed, logged for the
 * register publisher, in the statement (updatePolls; the caller holds the row: lockPoll).
 */
export async function updatePollRow(
  client: PoolClient,
  id: string,
  patch: UpdatePoll,
): Promise<void> {
  await updatePolls(
    client,
    `title = coalesce($2, p.title),
     time_zone = coalesce($3, p.time_zone),
     opens_at = case when $4::boolean then $5::timestamptz else p.opens_at end,
     closes_at = case when $6::boolean then $7::timestamptz else p.closes_at end,
     results_visibility = coalesce($8, p.results_visibility),
     one_vote_per_voter = coalesce($9, p.one_vote_per_voter),
     archived_at = case when $10::boolean is null then p.archived_at
                        when $10 then coalesce(p.archived_at, now()) else null end,
     vote_cooldown_ms = coalesce($11, p.vote_cooldown_ms),
     voters = coalesce($12, p.voters),
     group_ids = case when $13::boolean then $14::text[] else p.group_ids end,
     updated_at = now()`,
    "p.id = $1",
    [
      id,
      patch.title ?? null,
      patch.timeZone ?? null,
      patch.opensAt !== undefined,
      patch.opensAt ?? null,
      patch.closesAt !== undefined,
      patch.closesAt ?? null,
      patch.resultsVisibility ?? null,
      patch.oneVotePerVoter ?? null,
      patch.archived ?? null,
      patch.voteCooldownMs ?? null,
      patch.voters ?? null,
      patch.groupIds !== undefined,
      patch.groupIds ?? null,
    ],
  );
}

/**
 * Deletes the poll row in this transaction; its options go by cascade, what is bounded by
 * them (rollups, change marker, duplicate counts) at once and its votes by the writers'
 * background purge, queued here (migration 052's delete_polls), and the other processes are
 * told. Votes still in the stream are not stored afterwards: the writer drops votes whose
 * poll is gone, or whose incarnation is not the poll's (a poll re-created with the same
 * id), into rejected_votes (poll_deleted).
 */
export async function deletePollRow(client: PoolClient, id: string): Promise<void> {
  await deletePolls(client, [id]);
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

interface KioskRow {
  id: string;
  school_id: string;
  slug: string;
  name: string;
  poll_ids: string[] | null;
  created_at: Date;
  revoked_at: Date | null;
}

const KIOSK_COLUMNS = "id, school_id, slug, name, poll_ids, created_at, revoked_at";

const toKiosk = (r: KioskRow): Kiosk => ({
  id: r.id,
  schoolId: r.school_id,
  slug: r.slug,
  name: r.name,
  pollIds: r.poll_ids,
  createdAt: r.created_at.toISOString(),
  revokedAt: iso(r.revoked_at),
});

/**
 * Creates a kiosk under `id` in `schoolId` (its slug the create's id) and returns its
 * token: the only time the token exists outside the kiosk. "id_taken" as for insertPoll.
 */
export async function createKiosk(
  client: PoolClient,
  id: string,
  schoolId: string,
  input: CreateKiosk,
): Promise<(Kiosk & { token: string }) | "id_taken"> {
  const token = newKioskToken();
  try {
    await client.query("savepoint insert_kiosk");
    const { rows } = await client.query<KioskRow>(
      `insert into kiosks (id, school_id, slug, name, token_hash, poll_ids)
       values ($1, $2, $3, $4, $5, $6)
       returning ${KIOSK_COLUMNS}`,
      [id, schoolId, input.id, input.name, hashToken(token), input.pollIds ?? null],
    );
    await notifyRegistryRows(client, "kiosks", [id]);
    await client.query("release savepoint insert_kiosk");
    return { ...toKiosk(rows[0]!), token };
  } catch (err) {
    if (pgCode(err) !== "23505") throw err;
    await client.query("rollback to savepoint insert_kiosk");
    if (pgConstraint(err) === "kiosks_pkey" && id !== input.id) return "id_taken";
    throw new ConflictError("kiosk_exists", `kiosk "${input.id}" already exists`);
  }
}

/** 256 random bits: the token has full entropy, so its sha256 is all that is stored. */
function newKioskToken(): string {
  return `tfk_${randomBytes(32).toString("base64url")}`;
}

/** `limit` kiosks in creation order after the key, with each one's cursor key. */
export async function listKiosks(
  pool: Pool,
  filter: CreatedPageFilter,
  limit: number,
): Promise<(Kiosk & { createdKey: string })[]> {
  const { where, args, param } = createdPageWhere("k", "name", filter);
  const { rows } = await pool.query<KioskRow & { created_key: string }>(
    `select ${KIOSK_COLUMNS}, ${CREATED_KEY("k")} from kiosks k
     ${where} order by k.created_at, k.id limit ${param(limit)}`,
    args,
  );
  return rows.map((r) => ({ ...toKiosk(r), createdKey: r.created_key }));
}

/**
 * Every kiosk of the scope that the `q` keeps, for the fleet sorted by attention (which
 * depends on health kept in Redis, so it is sorted in memory: at most the scope's fleet).
 */
export async function listKiosksForAttention(
  pool: Pool,
  filter: Omit<CreatedPageFilter, "after">,
): Promise<Kiosk[]> {
  const { where, args } = createdPageWhere("k", "name", { ...filter, after: undefined });
  const { rows } = await pool.query<KioskRow>(
    `select ${KIOSK_COLUMNS} from kiosks k ${where}`,
    args,
  );
  return rows.map(toKiosk);
}

const IN_SCOPE = "($2::text is null or school_id = $2)";

const kioskNotFound = (id: string) =>
  new NotFoundError("kiosk_not_found", `kiosk "${id}" does not exist`);

/** The kiosk, if the scope may see it: another school's kiosk is the same 404 as a missing one. */
export async function getKiosk(
  db: Pool | PoolClient,
  id: string,
  scope: SchoolScope,
): Promise<Kiosk> {
  const { rows } = await db.query<KioskRow>(
    `select ${KIOSK_COLUMNS} from kiosks where id = $1 and ${IN_SCOPE}`,
    [id, scope],
  );
  if (rows.length === 0) throw kioskNotFound(id);
  return toKiosk(rows[0]!);
}

/** Writes the fields the patch has; `pollIds: null` lifts the kiosk's poll limit. */
export async function updateKiosk(
  client: PoolClient,
  id: string,
  scope: SchoolScope,
  patch: UpdateKiosk,
): Promise<Kiosk> {
  const { rows } = await client.query<KioskRow>(
    `update kiosks set
       name = coalesce($3, name),
       poll_ids = case when $4::boolean then $5::text[] else poll_ids end
     where id = $1 and ${IN_SCOPE}
     returning ${KIOSK_COLUMNS}`,
    [id, scope, patch.name ?? null, patch.pollIds !== undefined, patch.pollIds ?? null],
  );
  if (rows.length === 0) throw kioskNotFound(id);
  await notifyRegistryRows(client, "kiosks", [id]);
  return toKiosk(rows[0]!);
}

/**
 * Of these poll ids, those no poll of the school has (to refuse a kiosk limited to a poll
 * that is not, or is another school's).
 */
export async function missingPollIds(
  client: PoolClient,
  ids: string[],
  schoolId: string,
): Promise<string[]> {
  // Key-share locks the polls found: none is deleted before the caller's change commits.
  const { rows: found } = await client.query<{ id: string }>(
    "select id from polls where id = any($1) and school_id = $2 for key share",
    [ids, schoolId],
  );
  const present = new Set(found.map((r) => r.id));
  return ids.filter((id) => !present.has(id));
}

/**
 * Revokes a kiosk (idempotent: a second revoke keeps the first time) and drops its unused
 * pairing code: a revoked kiosk cannot be paired.
 */
export async function revokeKiosk(
  client: PoolClient,
  id: string,
  scope: SchoolScope,
): Promise<Kiosk> {
  const { rows } = await client.query<KioskRow>(
    `update kiosks set revoked_at = coalesce(revoked_at, now()) where id = $1 and ${IN_SCOPE}
     returning ${KIOSK_COLUMNS}`,
    [id, scope],
  );
  if (rows.length === 0) throw kioskNotFound(id);
  await notifyRegistryRows(client, "kiosks", [id]);
  await client.query("delete from kiosk_pairing_codes where kiosk_id = $1", [id]);
  return toKiosk(rows[0]!);
}

/**
 * Stores a kiosk's pairing code (its hash), replacing the kiosk's unused one, unless the
 * kiosk is revoked. One statement, so a revoke cannot slip between the check and the insert.
 * Expired codes of any kiosk are dropped first. "clash" when the hash is taken (a 1 in 2^40
 * chance: the caller draws another code); "no_kiosk" when the kiosk is missing or revoked.
 */
export async function putPairingCode(
  pool: Pool,
  kioskId: string,
  codeHash: Buffer,
  ttlMs: number,
): Promise<{ expiresAt: string } | "clash" | "no_kiosk"> {
  await pool.query("delete from kiosk_pairing_codes where expires_at <= now()");
  try {
    const { rows } = await pool.query<{ expires_at: Date }>(
      `insert into kiosk_pairing_codes (kiosk_id, code_hash, expires_at)
       select id, $2, now() + $3 * interval '1 millisecond'
       from kiosks where id = $1 and revoked_at is null
       on conflict (kiosk_id) do update
         set code_hash = excluded.code_hash, created_at = now(), expires_at = excluded.expires_at
       returning expires_at`,
      [kioskId, codeHash, ttlMs],
    );
    return rows.length === 0 ? "no_kiosk" : { expiresAt: rows[0]!.expires_at.toISOString() };
  } catch (err) {
    if (pgCode(err) === "23505") return "clash";
    throw err;
  }
}

/**
 * Uses a pairing code: deletes it (single use) and, if it was unexpired, returns the kiosk
 * it pairs. Undefined when no unexpired code has this hash (unknown, used or expired).
 */
export async function takePairingCode(
  client: PoolClient,
  codeHash: Buffer,
): Promise<string | undefined> {
  const { rows } = await client.query<{ kiosk_id: string; live: boolean }>(
    `delete from kiosk_pairing_codes where code_hash = $1
     returning kiosk_id, expires_at > now() as live`,
    [codeHash],
  );
  const row = rows[0];
  return row?.live ? row.kiosk_id : undefined;
}

/**
 * Gives a kiosk a new token, unless it is revoked: the previous token stops matching any
 * kiosk (the registry caches drop its hash on the kiosk's NOTIFY). Undefined when revoked.
 */
export async function rotateKioskToken(
  client: PoolClient,
  id: string,
): Promise<(Kiosk & { token: string }) | undefined> {
  const token = newKioskToken();
  const { rows } = await client.query<KioskRow>(
    `update kiosks set token_hash = $2 where id = $1 and revoked_at is null
     returning ${KIOSK_COLUMNS}`,
    [id, hashToken(token)],
  );
  if (rows.length === 0) return undefined;
  await notifyRegistryRows(client, "kiosks", [id]);
  return { ...toKiosk(rows[0]!), token };
}

/** A poll with its incarnation (migration 007), which the API stamps on each vote. */
export interface RegistryPoll extends Poll {
  incarnation: number;
}

/**
 * The registry cache's polls: every one, or only those of `ids` (the per-row reload after
 * a NOTIFY). One query for both, so a column added to the registry reaches both alike.
 */
export async function loadRegistryPolls(
  db: Pool | PoolClient,
  ids?: readonly string[],
): Promise<RegistryPoll[]> {
  const { rows } =
    ids === undefined
      ? await db.query<PollRow>(`${POLL_SELECT} order by p.created_at, p.id`)
      : await db.query<PollRow>(`${POLL_SELECT} where p.id = any($1)`, [ids]);
  return rows.map((r) => ({ ...toPoll(r), incarnation: r.incarnation }));
}

/** What the registry cache holds of a kiosk. */
export interface KioskCredential {
  id: string;
  schoolId: string;
  name: string;
  tokenHash: Buffer;
  revokedAt: Date | null;
  /** The polls it may vote in; null = any. */
  pollIds: string[] | null;
}

/** Every kiosk's credential, or only those of `ids` (as loadRegistryPolls). */
export async function loadKioskCredentials(
  pool: Pool,
  ids?: readonly string[],
): Promise<KioskCredential[]> {
  const select = "select id, school_id, name, token_hash, revoked_at, poll_ids from kiosks";
  const { rows } = await pool.query<{
    id: string;
    school_id: string;
    name: string;
    token_hash: Buffer;
    revoked_at: Date | null;
    poll_ids: string[] | null;
  }>(ids === undefined ? select : `${select} where id = any($1)`, ids === undefined ? [] : [ids]);
  return rows.map((k) => ({
    id: k.id,
    schoolId: k.school_id,
    name: k.name,
    tokenHash: k.token_hash,
    revokedAt: k.revoked_at,
    pollIds: k.poll_ids,
  }));
}

export interface RegistrySnapshot {
  polls: RegistryPoll[];
  kiosks: KioskCredential[];
  schools: School[];
  schoolAdmins: SchoolAdminCredential[];
}

export async function loadRegistry(pool: Pool): Promise<RegistrySnapshot> {
  const [polls, kiosks, schools, schoolAdmins] = await Promise.all([
    loadRegistryPolls(pool),
    loadKioskCredentials(pool),
    loadSchools(pool),
    loadSchoolAdminCredentials(pool),
  ]);
  return { polls, kiosks, schools, schoolAdmins };
}
