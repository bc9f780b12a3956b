-- 052 (owned by the ingest API): the registry's change notifications, the slug defaults and
-- what a poll's insert and delete do besides are no longer triggers on the registry tables,
-- which Citus makes reference tables (issue #29, docs/citus.md): Citus refuses a trigger on
-- a reference table, and with citus.enable_unsafe_triggers runs it on each shard placement,
-- on the workers, where a NOTIFY reaches no listener (the services LISTEN on the
-- coordinator) and a write of a distributed table is not routed.
--
-- Notifications: the statements that change registry rows say so themselves, in their
-- transaction, through the functions below (the API's stores: ingest-api/registry/
-- registry-changes.ts; a test or bench writing rows in SQL calls them too). NOTIFY is
-- transactional either way: delivered at the commit, not at all on a rollback. The payloads
-- are those of the triggers (010, 017, 026), which the listeners parse:
-- - tallyflow_registry: `<table>:<key>`, one notification per distinct row key
--   (schools:<id>, polls:<id>, poll_options:<poll_id>, kiosks:<id>); ids are at most 64
--   characters (the tables' checks), far below NOTIFY's 8000-byte payload limit.
-- - tallyflow_people: a school's id, once per school whose people a statement changed, and
--   once when a school gets its first lesson register (the API then holds its groups).
-- school_admins and school_teachers keep their triggers (010's notify_registry_row): they
-- are Citus local tables on the coordinator, where a trigger runs and its NOTIFY is heard.
--
-- Slugs: a poll's or kiosk's slug defaulted to its id by a BEFORE INSERT trigger (017);
-- every insert names it now (the API always did), and a missing one fails on NOT NULL.
--
-- A poll's insert and delete: polls_inserted (below) refuses an id whose purge is pending
-- (031's BEFORE INSERT trigger did), and delete_polls deletes polls with what goes at once
-- (011, 031 and 048's AFTER DELETE trigger: the rollups, the change marker and its log, the
-- duplicate counts, and the purge queued). The API calls both in the transaction of the
-- change (registry-store.ts, school-store.ts). The check now runs after the insert: an
-- insert racing a delete of the same id waits for the delete on the primary key, then sees
-- its committed purge row (the trigger ran before, and missed it).
--
-- polls_register_* (042, register_poll_changes) and the attendance triggers are not
-- changed here. Parameters: none. Output: none.

drop trigger schools_changed on schools;
drop trigger polls_changed on polls;
drop trigger poll_options_changed on poll_options;
drop trigger kiosks_changed on kiosks;
drop trigger polls_first_register on polls;
drop function notify_first_register();
drop trigger people_inserted on people;
drop trigger people_updated on people;
drop trigger people_deleted on people;
drop function notify_people_change();
drop trigger polls_default_slug on polls;
drop trigger kiosks_default_slug on kiosks;
drop function default_slug_to_id();
drop trigger polls_deleted_clear_writer_rows on polls;
drop function delete_poll_writer_rows();
drop trigger polls_refuse_purging_id on polls;
drop function refuse_poll_id_being_purged();

-- `<table>:<key>` on tallyflow_registry for each distinct key (nulls skipped): what a
-- statement that inserted, updated or deleted those rows of p_table sends.
create function notify_registry_rows(p_table text, p_keys text[]) returns void
  language plpgsql set search_path = public, pg_temp as $$
begin
  if p_table is null or p_table not in ('schools', 'polls', 'poll_options', 'kiosks') then
    raise invalid_parameter_value using message = format(
      'notify_registry_rows: "%s" is not a registry table (schools, polls, poll_options, kiosks)',
      p_table);
  end if;
  perform pg_notify('tallyflow_registry', p_table || ':' || s.key)
  from (select distinct k.key from unnest(p_keys) as k(key) where k.key is not null) s;
end $$;

-- A school's id on tallyflow_people for each distinct school whose people changed.
create function notify_people_schools(p_school_ids text[]) returns void
  language plpgsql set search_path = public, pg_temp as $$
begin
  perform pg_notify('tallyflow_people', s.id)
  from (select distinct k.id from unnest(p_school_ids) as k(id) where k.id is not null) s;
end $$;

-- After inserting these polls (same transaction): refused (unique_violation on
-- poll_purges_pkey, as 031's trigger raised it; the API answers 409 poll_purge_pending, or
-- draws another id for a generated one) while one's id is still being purged: the old
-- votes are told apart from a new poll's only by the poll row. Then `polls:<id>` for each,
-- and a school's id on tallyflow_people when these are its first lesson registers (the
-- school has no other register): from then on the API holds that school's groups
-- (ingest-api/people/known-people.ts). Unlike 026's row trigger, registers created together
-- by one statement in a school without any still notify. A school's registers are counted
-- up to one more than it was given (an index range, polls_register_ends_idx): one create
-- reads at most two entries, whatever the school holds.
create function polls_inserted(p_poll_ids text[]) returns void
  language plpgsql set search_path = public, pg_temp as $$
declare
  purging text;
begin
  select poll_id into purging from poll_purges where poll_id = any(p_poll_ids) limit 1;
  if purging is not null then
    raise unique_violation using
      message = format('poll "%s" was deleted and its votes are still being removed', purging),
      constraint = 'poll_purges_pkey';
  end if;
  perform notify_registry_rows('polls', p_poll_ids);
  perform pg_notify('tallyflow_people', c.school_id)
  from (
    select p.school_id, count(*) as given from polls p
    where p.id = any(p_poll_ids) and p.kind = 'register'
    group by p.school_id
  ) c
  where (
    select count(*) from (
      select from polls o
      where o.school_id = c.school_id and o.kind = 'register'
      limit c.given + 1
    ) r
  ) = c.given;
end $$;

-- Deletes these polls (options by cascade) and, in the same transaction, what is bounded
-- by their options and buckets rather than their votes (vote_rollups, the change marker
-- and its log, duplicate_counts), queues each in poll_purges (the writers purge the rest in
-- bounded steps: purge_deleted_polls, migration 031) and notifies `polls:<id>`. In the
-- writers' lock order (poll_changes, its log, then the rollup rows), though the poll row's
-- lock already keeps a writer and this delete apart (batch-writer/poll-incarnations.ts takes
-- FOR KEY SHARE on it). Returns the ids deleted (an id with no poll is skipped). Runs with
-- its owner's rights: the API has none on the writer's tables (016).
create function delete_polls(p_ids text[]) returns setof text
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  ids text[];
  incarnations bigint[];
  schools text[];
  kinds text[];
begin
  with gone as (
    delete from polls where id = any(p_ids) returning id, incarnation, school_id, kind
  )
  select array_agg(id), array_agg(incarnation), array_agg(school_id), array_agg(kind)
  into ids, incarnations, schools, kinds
  from gone;
  if ids is null then
    return;
  end if;
  delete from poll_changes where poll_id = any(ids);
  delete from poll_change_log where poll_id = any(ids);
  delete from vote_rollups where poll_id = any(ids);
  delete from duplicate_counts where poll_id = any(ids);
  insert into poll_purges (poll_id, incarnation, school_id, kind)
  select * from unnest(ids, incarnations, schools, kinds);
  perform notify_registry_rows('polls', ids);
  return query select unnest(ids);
end $$;

revoke execute on function notify_registry_rows(text, text[]) from public;
revoke execute on function notify_people_schools(text[]) from public;
revoke execute on function polls_inserted(text[]) from public;
revoke execute on function delete_polls(text[]) from public;
grant execute on function notify_registry_rows(text, text[]) to tallyflow_api;
grant execute on function notify_people_schools(text[]) to tallyflow_api;
grant execute on function polls_inserted(text[]) to tallyflow_api;
grant execute on function delete_polls(text[]) to tallyflow_api;
