-- 052 (owned by the ingest API): the registry's change notifications and the slug defaults
-- are no longer triggers on the registry tables, which Citus makes reference tables (issue
-- #29, docs/citus.md): Citus refuses a trigger on a reference table, and with
-- citus.enable_unsafe_triggers runs it on each shard placement, on the workers, where a
-- NOTIFY reaches no listener (the services LISTEN on the coordinator).
--
-- Notifications: the statements that change registry rows say so themselves, in their
-- transaction, through the functions below (the API's stores: ingest-api/registry/
-- registry-notify.ts; a test or bench writing rows in SQL calls them too). NOTIFY is
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
-- Parameters: none. Output: none.

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

-- After inserting these polls (same transaction): `polls:<id>` for each, and a school's id
-- on tallyflow_people when these are its first lesson registers (the school has no other
-- register): from then on the API holds that school's groups (ingest-api/people/
-- known-people.ts). Unlike 026's row trigger, registers created together by one statement
-- in a school without any still notify. A school's registers are counted up to one more
-- than it was given (an index range, polls_register_ends_idx): one create reads at most two
-- entries, whatever the school holds.
create function notify_polls_created(p_poll_ids text[]) returns void
  language plpgsql set search_path = public, pg_temp as $$
begin
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

revoke execute on function notify_registry_rows(text, text[]) from public;
revoke execute on function notify_people_schools(text[]) from public;
revoke execute on function notify_polls_created(text[]) from public;
grant execute on function notify_registry_rows(text, text[]) to tallyflow_api;
grant execute on function notify_people_schools(text[]) to tallyflow_api;
grant execute on function notify_polls_created(text[]) to tallyflow_api;
