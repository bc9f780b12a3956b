-- 031 (owned by the batch writer): deleting a poll no longer deletes its votes inside the
-- admin's request. Until now (011) the poll row's delete ran `delete from votes where
-- poll_id = …` in the same transaction, with the poll row locked: a poll of millions of
-- votes held the admin's HTTP request, and every writer batch naming that poll (they take
-- FOR KEY SHARE on it, batch-writer/poll-incarnations.ts), for as long as that took. The
-- register's person-days (019) were found by a scan of the same votes, in the same place.
--
-- Now the delete is a few rows: the poll row, and what is bounded by its options and
-- buckets rather than by its votes (vote_rollups, poll_changes, duplicate_counts), go at
-- once, and the poll is queued in poll_purges. The writers drain the queue in bounded
-- statements (purge_deleted_polls below, batch-writer/poll-purge.ts): votes, voter_ballots,
-- rejected_votes and conflicting_votes, `limit` rows at a time. An attendance register's
-- person-days are marked dirty from the votes each statement deletes, and recomputed by
-- the writers as before (presence-upkeep.ts, which reads only the votes of polls that
-- exist, so they are right as soon as the poll row is gone).
--
-- Until its purge is done, the poll's id may not be created again: the old votes are told
-- apart from a new poll's only by the poll row. A create under that id is refused (the
-- trigger below raises unique_violation on poll_purges_pkey; the API answers 409
-- poll_purge_pending, or draws another id for a school's generated one).

create table poll_purges (
  poll_id text primary key,
  incarnation bigint not null,
  school_id text not null,
  kind text not null,
  deleted_at timestamptz not null default now(),
  rows_purged bigint not null default 0
);

-- The purge reads a poll's refusals by poll: without these, each bounded step would scan
-- the whole of both tables (the votes have votes_poll_cast_idx, voter_ballots its key).
create index rejected_votes_poll_idx on rejected_votes (poll_id);
create index conflicting_votes_poll_idx on conflicting_votes (poll_id);

-- Replaced with its rights restated: CREATE OR REPLACE resets what it does not say (016
-- made it security definer so that the API needs no rights on the writer's tables).
create or replace function delete_poll_writer_rows() returns trigger language plpgsql
  security definer set search_path = public, pg_temp as $$
begin
  delete from vote_rollups where poll_id = old.id;
  delete from poll_changes where poll_id = old.id;
  delete from duplicate_counts where poll_id = old.id;
  insert into poll_purges (poll_id, incarnation, school_id, kind)
  values (old.id, old.incarnation, old.school_id, old.kind);
  return null;
end;
$$;

-- The person-days of a deleted register are marked by the purge, from what it deletes.
drop trigger polls_deleted_mark_attendance on polls;
drop function mark_attendance_dirty_on_poll_delete();

create function refuse_poll_id_being_purged() returns trigger language plpgsql
  security definer set search_path = public, pg_temp as $$
begin
  if exists (select 1 from poll_purges where poll_id = new.id) then
    raise unique_violation using
      message = format('poll "%s" was deleted and its votes are still being removed', new.id),
      constraint = 'poll_purges_pkey';
  end if;
  return new;
end $$;

create trigger polls_refuse_purging_id before insert on polls
  for each row execute function refuse_poll_id_being_purged();

-- One bounded step of the queue: the oldest purge no other writer is working on, at most
-- p_limit rows from each of its tables in turn (votes first). Returns the poll, the rows
-- this step deleted, and whether the purge is done (its queue row then goes too).
create function purge_deleted_polls(p_limit integer)
  returns table (poll_id text, purged bigint, done boolean)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  p poll_purges%rowtype;
  n bigint;
  left_over boolean := false;
begin
  select * into p from poll_purges q order by q.deleted_at, q.poll_id
    limit 1 for update skip locked;
  if not found then
    return;
  end if;
  purged := 0;

  with gone as (
    delete from votes v
    where v.ctid = any (array(select x.ctid from votes x where x.poll_id = p.poll_id limit p_limit))
    returning v.voter_id, v.cast_at
  ), dirty as (
    insert into attendance_dirty (school_id, person_id, day)
    select distinct p.school_id, g.voter_id, (g.cast_at at time zone s.time_zone)::date
    from gone g join schools s on s.id = p.school_id
    where p.kind = 'attendance' and g.voter_id is not null
    on conflict do nothing
  )
  select count(*) into n from gone;
  purged := purged + n;
  left_over := n >= p_limit;

  if not left_over then
    delete from voter_ballots b
    where b.ctid = any (array(select x.ctid from voter_ballots x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;
  if not left_over then
    delete from rejected_votes r
    where r.ctid = any (array(select x.ctid from rejected_votes x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;
  if not left_over then
    delete from conflicting_votes c
    where c.ctid = any (array(select x.ctid from conflicting_votes x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;

  poll_id := p.poll_id;
  done := not left_over;
  if done then
    delete from poll_purges q where q.poll_id = p.poll_id;
  else
    update poll_purges q set rows_purged = q.rows_purged + purged where q.poll_id = p.poll_id;
  end if;
  return next;
end $$;

revoke execute on function purge_deleted_polls(integer) from public;
grant execute on function purge_deleted_polls(integer) to tallyflow_writer;
grant select on poll_purges to tallyflow_api, tallyflow_writer, tallyflow_analyst;
