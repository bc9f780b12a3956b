import { createHash, randomBytes } from "node:crypto";
import { ConflictError, NotFoundError, ValidationError } from "../common/errors.ts";
import { type Pool, type PoolClient, pgCode, withTransaction } from "../common/postgres.ts";
import type { Kiosk, Poll, PollOption, ResultsVisibility } from "../common/registry-types.ts";
import type { CreateKiosk, CreatePoll, UpdatePoll } from "./registry-schemas.ts";

// Postgres access for the registry. Rules for changing a poll once votes exist:
// title, labels, option order, time zone, window and visibility may change at any time;
// options may be added at any time; removing an option or switching one-vote-per-voter
// is refused once the poll has votes (it would orphan or re-judge stored votes).

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

/**
 * Every poll, or only those of `ids` (the registry cache's per-row reload): one query for
 * both, so a column added to the registry reaches the full and the per-row load alike.
 */
export async function listPolls(db: Pool | PoolClient, ids?: readonly string[]): Promise<Poll[]> {
  const { rows } =
    ids === undefined
      ? await db.query<PollRow>(`${POLL_SELECT} order by p.created_at, p.id`)
      : await db.query<PollRow>(`${POLL_SELECT} where p.id = any($1) order by p.created_at, p.id`, [
          ids,
        ]);
  return rows.map(toPoll);
}

export async function getPoll(db: Pool | PoolClient, id: string): Promise<Poll> {
  const { rows } = await db.query<PollRow>(`${POLL_SELECT} where p.id = $1`, [id]);
  if (rows.length === 0) throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
  return toPoll(rows[0]!);
}

async function insertOptions(
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

export async function createPoll(pool: Pool, input: CreatePoll): Promise<Poll> {
  return withTransaction(pool, async (client) => {
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
    await insertOptions(client, input.id, input.options);
    return getPoll(client, input.id);
  });
}

export async function pollHasVotes(db: Pool | PoolClient, pollId: string): Promise<boolean> {
  const { rows } = await db.query<{ has: boolean }>(
    "select exists (select 1 from votes where poll_id = $1) as has",
    [pollId],
  );
  return rows[0]!.has;
}

export async function updatePoll(pool: Pool, id: string, patch: UpdatePoll): Promise<Poll> {
  return withTransaction(pool, async (client) => {
    // Row lock: two concurrent PATCHes of one poll apply one after the other.
    const { rows } = await client.query<PollRow>(`${POLL_SELECT} where p.id = $1 for update`, [id]);
    if (rows.length === 0) throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
    const current = toPoll(rows[0]!);
    const opensAt = patch.opensAt === undefined ? current.opensAt : patch.opensAt;
    const closesAt = patch.closesAt === undefined ? current.closesAt : patch.closesAt;
    if (opensAt && closesAt && Date.parse(closesAt) <= Date.parse(opensAt))
      // Same answer as a create with a bad window: the request's field is wrong.
      throw new ValidationError([
        { field: "closesAt", message: `must be after opensAt (${opensAt}), got ${closesAt}` },
      ]);

    const removed = patch.options
      ? current.options.filter((o) => !patch.options!.some((n) => n.id === o.id))
      : [];
    const switchesRule =
      patch.oneVotePerVoter !== undefined && patch.oneVotePerVoter !== current.oneVotePerVoter;
    if ((removed.length > 0 || switchesRule) && (await pollHasVotes(client, id))) {
      throw new ConflictError(
        "poll_has_votes",
        removed.length > 0
          ? `options ${removed.map((o) => o.id).join(", ")} cannot be removed: the poll has votes`
          : "oneVotePerVoter cannot change: the poll has votes",
      );
    }

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
    if (patch.options) {
      if (removed.length > 0)
        await client.query("delete from poll_options where poll_id = $1 and id = any($2)", [
          id,
          removed.map((o) => o.id),
        ]);
      await insertOptions(client, id, patch.options);
    }
    return getPoll(client, id);
  });
}

/**
 * Deletes a poll. Refused while it has votes, unless it was archived first: then its
 * votes and everything derived from them go with it.
 */
export async function deletePoll(pool: Pool, id: string): Promise<Poll> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<PollRow>(`${POLL_SELECT} where p.id = $1 for update`, [id]);
    if (rows.length === 0) throw new NotFoundError("poll_not_found", `poll "${id}" does not exist`);
    const poll = toPoll(rows[0]!);
    if (!poll.archived && (await pollHasVotes(client, id)))
      throw new ConflictError(
        "poll_has_votes",
        `poll "${id}" has votes: archive it (PATCH {"archived": true}) before deleting it`,
      );
    for (const table of pollOwnedTables) {
      await client.query(`delete from ${table} where poll_id = $1`, [id]);
    }
    await client.query("delete from polls where id = $1", [id]);
    return poll;
  });
}

/** Tables holding a poll's data besides the registry (dead letters are kept: they are evidence). */
const pollOwnedTables = [
  "votes",
  "vote_rollups",
  "poll_changes",
  "voter_ballots",
  "rejected_votes",
  "duplicate_counts",
];

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

/** What the registry cache holds of a kiosk. */
export interface KioskCredential {
  id: string;
  tokenHash: Buffer;
  revokedAt: Date | null;
}

/** Every kiosk's credential, or only those of `ids` (as listPolls). */
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
  polls: Poll[];
  kiosks: KioskCredential[];
}

export async function loadRegistry(pool: Pool): Promise<RegistrySnapshot> {
  const [polls, kiosks] = await Promise.all([listPolls(pool), loadKioskCredentials(pool)]);
  return { polls, kiosks };
}
