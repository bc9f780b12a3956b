import type { PoolClient } from "../common/postgres.ts";
import type { StoredCompletion } from "../common/register-completion.ts";
import type { DecodedVote } from "./decode.ts";

// The state of lesson registers (register_states, register_people: migrations 026, 037), kept by
// the writer in the transaction that stores their events and completions, as it keeps the
// rollups. A register the batch touched (an event or a completion) is recomputed whole from
// its own stored events: a lesson has tens of people and events, read through
// votes_poll_voter_cast_idx, so recomputing costs one index range and makes the state a
// function of the events and the completion whatever order they came in, and a redelivered
// batch (its events duplicates) leaves it as it was.
//
// - A completion is recorded once: the row's completion columns are written only while
//   empty (the first stored wins; a resend with the same completionId is dropped by
//   JetStream before, a second one with another id changes nothing). With it, the group's
//   roster as the writer stores it (the active people of the school in the register's
//   group): who is present once completed, whatever the group becomes later.
// - A person's status is their latest event's (cast time, then eventId): `absent`; else
//   `present` once completed (an absence taken back); else `pending`. Only people with an
//   event have a row (migration 037): the roster's other members are present, counted in
//   register_states.present but never written one by one (a national morning's pupils are
//   ~95 % such: a row each was most of the writes the absent-only reporting saves). A
//   register is `changed_after_completion` when any event was cast after its completion's
//   time (a correction), never for one cast before it and arriving late (an offline
//   tablet's queue): the same events give the same state in any order.
//
// Two writers storing one register's events at once would each miss the other's: the rows
// are locked in poll order before the events are read, in a statement of their own (READ
// COMMITTED: it sees what committed before the lock was granted), as presence-upkeep.ts does
// for a changed person-day.

const LIVE_REGISTERS = `
  select p.id, p.incarnation
  from writer_live_polls($1) p join polls r on r.id = p.id and r.kind = 'register'`;

const ENSURE_STATES = `
  insert into register_states (poll_id, school_id, group_id, starts_at, ends_at)
  select id, school_id, group_ids[1], starts_at, ends_at from polls
  where id = any($1) and kind = 'register'
  order by id
  on conflict (poll_id) do nothing`;

const LOCK_STATES = `
  select poll_id from register_states where poll_id = any($1) order by poll_id for update`;

// The first completion of each register in the batch (by its time, then id), written only
// where none is recorded yet, with the group's roster as it is now.
const RECORD_COMPLETIONS = `
  with firsts as (
    select distinct on (p) p, c, ts, who
    from unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[]) as u(p, c, ts, who)
    order by p, ts, c
  )
  update register_states s set
    completion_id = f.c, completed_at = f.ts, completion_stored_at = now(), completed_by = f.who,
    roster = coalesce((
      select array_agg(pe.id order by pe.id) from people pe
      where pe.school_id = s.school_id and pe.active and s.group_id = any(pe.groups)), '{}')
  from firsts f
  where s.poll_id = f.p and s.completion_id is null`;

// Only the people with an event get a row (migration 037): the completion's roster says the
// rest are present. Events are only ever added, so a person's row is written when their
// latest event changed it (an upsert that skips an equal row: a completion, or a batch
// redelivered, rewrites none of the absences already stored); a row whose person has no
// event left (their votes gone with a dropped partition) is deleted in the same statement.
const KEEP_PEOPLE = `
  with latest as (
    select distinct on (v.poll_id, v.voter_id) v.poll_id, v.voter_id collate "C" as person_id,
           v.option_id, v.cast_at
    from votes v
    where v.poll_id = any($1) and v.voter_id is not null
    order by v.poll_id, v.voter_id, v.cast_at desc, v.event_id desc
  ), gone as (
    delete from register_people rp
    where rp.poll_id = any($1)
      and not exists (select 1 from latest l where l.poll_id = rp.poll_id and l.person_id = rp.person_id)
  )
  insert into register_people (poll_id, person_id, status, last_event_at, after_completion)
  select l.poll_id, l.person_id,
         case when l.option_id = 'absent' then 'absent'
              when s.completed_at is not null then 'present'
              else 'pending' end,
         l.cast_at, coalesce(l.cast_at > s.completed_at, false)
  from latest l join register_states s on s.poll_id = l.poll_id
  order by l.poll_id, l.person_id
  on conflict (poll_id, person_id) do update set
    status = excluded.status, last_event_at = excluded.last_event_at,
    after_completion = excluded.after_completion
  where (register_people.status, register_people.last_event_at, register_people.after_completion)
    is distinct from (excluded.status, excluded.last_event_at, excluded.after_completion)`;

const RECOUNT_STATES = `
  update register_states s set
    present = c.present, absent = c.absent, pending = c.pending,
    events = (select count(*) from votes v where v.poll_id = s.poll_id),
    changed_after_completion = s.completed_at is not null and exists (
      select 1 from votes v where v.poll_id = s.poll_id and v.cast_at > s.completed_at),
    updated_at = now()
  from (
    select s2.poll_id,
           count(rp.person_id) filter (where rp.status = 'present')
             + coalesce((select count(*) from unnest(s2.roster) as r(person_id)
                         where not exists (select 1 from register_people x
                                           where x.poll_id = s2.poll_id and x.person_id = r.person_id)),
                        0) as present,
           count(rp.person_id) filter (where rp.status = 'absent') as absent,
           count(rp.person_id) filter (where rp.status = 'pending') as pending
    from register_states s2 left join register_people rp on rp.poll_id = s2.poll_id
    where s2.poll_id = any($1)
    group by s2.poll_id, s2.roster
  ) c
  where s.poll_id = c.poll_id`;

export interface RegisterUpkeep {
  /** Registers recomputed. */
  registers: number;
  /** Completions recorded (a register's first). */
  completed: number;
}

/**
 * Recomputes the registers among the batch's polls (those of its votes with a voter, and of
 * its completions) and records the completions, in the batch's transaction.
 */
export async function keepRegisters(
  client: PoolClient,
  votes: readonly DecodedVote[],
  completions: readonly StoredCompletion[],
): Promise<RegisterUpkeep> {
  const ids = new Set<string>();
  for (const v of votes) if (v.voterId !== undefined) ids.add(v.pollId);
  for (const c of completions) ids.add(c.pollId);
  if (ids.size === 0) return { registers: 0, completed: 0 };
  // Locks the completions' polls as the batch's votes' are (a delete waits for this batch).
  const { rows } = await client.query<{ id: string; incarnation: number }>(LIVE_REGISTERS, [
    [...ids],
  ]);
  if (rows.length === 0) return { registers: 0, completed: 0 };
  const incarnations = new Map(rows.map((r) => [r.id, Number(r.incarnation)]));
  const registers = [...incarnations.keys()].sort();
  await client.query(ENSURE_STATES, [registers]);
  await client.query(LOCK_STATES, [registers]);
  // A completion of a register deleted (or deleted and created anew) since is dropped.
  const live = completions.filter((c) => incarnations.get(c.pollId) === c.pollIncarnation);
  let completed = 0;
  if (live.length > 0)
    completed =
      (
        await client.query(RECORD_COMPLETIONS, [
          live.map((c) => c.pollId),
          live.map((c) => c.completionId),
          live.map((c) => c.completedAt),
          live.map((c) => c.by),
        ])
      ).rowCount ?? 0;
  await client.query(KEEP_PEOPLE, [registers]);
  await client.query(RECOUNT_STATES, [registers]);
  // Each register's change logged for the publisher (migration 050), after its state row's
  // lock, as every writer of the log takes them.
  await client.query("select log_register_changes($1)", [registers]);
  return { registers: registers.length, completed };
}
