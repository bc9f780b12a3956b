import { createHash, randomBytes } from "node:crypto";
import { ConflictError, NotFoundError } from "../common/errors.ts";
import { type Pool, type PoolClient, pgCode } from "../common/postgres.ts";
import type { Kiosk, Poll, PollOption, ResultsVisibility } from "../common/registry-types.ts";
import type { CreateKiosk, CreatePoll, UpdatePoll } from "./registry-schemas.ts";

// Postgres access for the registry: SQL only. The rules (what may change once a poll has
// votes, when a poll may be deleted) and the side effects of a change are the service's
// (registry-service.ts), which runs the functions taking a client in its transactions.

interface PollRow {
  id: string;
  title: string;
  time_zone: string;
  opens_at: Date | null;
  closes_at: Date | null;
  results_visibility: ResultsVisibility;
  one_vote_per_voter: boolean;
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
  return {
    id: row.id,
    title: row.title,
    timeZone: row.time_zone,
    opensAt: iso(row.opens_at),
    closesAt: iso(row.closes_at),
    resultsVisibility: row.results_visibility,
    oneVotePerVoter: row.one_vote_per_voter,
    archived: row.archived_at !== null,
    archivedAt: iso(row.archived_at),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    options: row.options ?? [],
  };
}

export async function listPolls(db: Pool | PoolClient): Promise<Poll[]> {
  const { rows } = await db.query<PollRow>(`${POLL_SELECT} order by p.created_at, p.id`);
  return rows.map(toPoll);
}

export async function getPoll(db: Pool | PoolClient, id: string): Promise<Poll> {
  const { rows } = await db.query<PollRow>(`${POLL_SELECT} where p.id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
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
}

/** Inserts the poll row (options apart); an id taken already is 409 poll_exists. */
export async function insertPoll(client: PoolClient, input: CreatePoll): Promise<void> {
  try {
    await client.query(
      `insert into polls (id, title, time_zone, opens_at, closes_at, results_visibility, one_vote_per_voter)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        input.id,
        input.title,
        input.timeZone ?? "UTC",
        input.opensAt ?? null,
        input.closesAt ?? null,
        input.resultsVisibility ?? "live",
        input.oneVotePerVoter ?? false,
      ],
    );
  } catch (err) {
    if (pgCode(err) === "23505")
      throw new ConflictError("poll_exists", `poll "${input.id}" already exists`);
    throw err;
  }
}

export async function pollHasVotes(db: Pool | PoolClient, pollId: string): Promise<boolean> {
  const { rows } = await db.query<{ has: boolean }>(
    "select exists (select 1 from votes where poll_id = $1) as has",
    [pollId],
  );
  return rows[0]!.has;
}

/**
 * The poll, its row locked until the transaction ends: two changes of one poll apply one
 * after the other, and a delete waits for a batch being written for it (the writer holds
 * a key-share lock on the row), so no vote commits between the checks and the change.
 */
export async function lockPoll(client: PoolClient, id: string): Promise<Poll> {
  const { rows } = await client.query<PollRow>(`${POLL_SELECT} where p.id = $1 for update`, [id]);
  if (rows.length === 0) throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
  return toPoll(rows[0]!);
}

/** Writes the fields the patch has (options apart); an absent field keeps its value. */
export async function updatePollRow(
  client: PoolClient,
  id: string,
  patch: UpdatePoll,
): Promise<void> {
  await client.query(
    `update polls set
       title = coalesce($2, title),
       time_zone = coalesce($3, time_zone),
       opens_at = case when $4::boolean then $5::timestamptz else opens_at end,
       closes_at = case when $6::boolean then $7::timestamptz else closes_at end,
       results_visibility = coalesce($8, results_visibility),
       one_vote_per_voter = coalesce($9, one_vote_per_voter),
       archived_at = case when $10::boolean is null then archived_at
                          when $10 then coalesce(archived_at, now()) else null end,
       updated_at = now()
     where id = $1`,
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
    ],
  );
}

/**
 * Deletes the poll row; its options go by cascade, and the writer's rows for it (votes
 * and everything derived from them) by the writer's trigger (migration 011), in this
 * transaction. Votes still in the stream are not stored afterwards: the writer drops votes
 * whose poll is gone, or whose incarnation is not the poll's (a poll re-created with the
 * same id), into rejected_votes (poll_deleted).
 */
export async function deletePollRow(client: PoolClient, id: string): Promise<void> {
  await client.query("delete from polls where id = $1", [id]);
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

interface KioskRow {
  id: string;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

const toKiosk = (r: KioskRow): Kiosk => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at.toISOString(),
  revokedAt: iso(r.revoked_at),
});

/** Creates a kiosk and returns its token: the only time the token exists outside the kiosk. */
export async function createKiosk(
  pool: Pool,
  input: CreateKiosk,
): Promise<Kiosk & { token: string }> {
  const token = `tfk_${randomBytes(32).toString("base64url")}`;
  try {
    const { rows } = await pool.query<KioskRow>(
      `insert into kiosks (id, name, token_hash) values ($1, $2, $3)
       returning id, name, created_at, revoked_at`,
      [input.id, input.name, hashToken(token)],
    );
    return { ...toKiosk(rows[0]!), token };
  } catch (err) {
    if (pgCode(err) === "23505")
      throw new ConflictError("kiosk_exists", `kiosk "${input.id}" already exists`);
    throw err;
  }
}

export async function listKiosks(pool: Pool): Promise<Kiosk[]> {
  const { rows } = await pool.query<KioskRow>(
    "select id, name, created_at, revoked_at from kiosks order by created_at, id",
  );
  return rows.map(toKiosk);
}

/** Revokes a kiosk (idempotent: a second revoke keeps the first time). */
export async function revokeKiosk(pool: Pool, id: string): Promise<Kiosk> {
  const { rows } = await pool.query<KioskRow>(
    `update kiosks set revoked_at = coalesce(revoked_at, now()) where id = $1
     returning id, name, created_at, revoked_at`,
    [id],
  );
  if (rows.length === 0) throw new NotFoundError("kiosk_not_found", `kiosk "${id}" does not exist`);
  return toKiosk(rows[0]!);
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
  tokenHash: Buffer;
  revokedAt: Date | null;
}

/** Every kiosk's credential, or only those of `ids` (as loadRegistryPolls). */
export async function loadKioskCredentials(
  pool: Pool,
  ids?: readonly string[],
): Promise<KioskCredential[]> {
  const select = "select id, token_hash, revoked_at from kiosks";
  const { rows } = await pool.query<{ id: string; token_hash: Buffer; revoked_at: Date | null }>(
    ids === undefined ? select : `${select} where id = any($1)`,
    ids === undefined ? [] : [ids],
  );
  return rows.map((k) => ({ id: k.id, tokenHash: k.token_hash, revokedAt: k.revoked_at }));
}

export interface RegistrySnapshot {
  polls: RegistryPoll[];
  kiosks: KioskCredential[];
}

export async function loadRegistry(pool: Pool): Promise<RegistrySnapshot> {
  const [polls, kiosks] = await Promise.all([loadRegistryPolls(pool), loadKioskCredentials(pool)]);
  return { polls, kiosks };
}
