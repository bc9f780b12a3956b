-- 059 (owned by the ingest API): the lesson registers' roster log (056's
-- register_roster_change_log) is no longer written by statement-level triggers on people,
-- the last triggers Citus would refuse (issue #29, docs/citus.md "Triggers": people is a
-- reference table). As 057's schools_updated, every statement that writes people passes
-- the rows it changed to people_changed in its transaction (the API's stores through
-- ingest-api/registry/registry-changes.ts changePeopleSql; a test, seed or bench writing
-- people in SQL does too):
--
-- - people_changed(rows before, rows after): each changed person's row before (none for an
--   insert) and after (none for a delete), in any order. Logs (log_roster_changes, 056) the
--   (school, group) pairs whose ACTIVE membership changed: the symmetric difference of
--   (school, person, group) over the active rows before and after, what 057's
--   log_people_roster_changes computed from its transition tables for an insert, a delete
--   and an update alike. A row passed unchanged, or changed only in its name, logs
--   nothing.
--
-- Security definer, as the trigger's function was: the API's role has no rights on the
-- change log. Granted to tallyflow_api, the only role that writes people
-- (erase_person_events, the erasure, renames a person's ids in the event tables, never in
-- people).
--
-- Upgrade: a change committed before this migration was logged by the triggers; nothing
-- else changes. Parameters: none. Output: none.

drop trigger people_roster_inserted on people;
drop trigger people_roster_updated on people;
drop trigger people_roster_deleted on people;
drop function log_people_roster_changes();

create function people_changed(p_before people[], p_after people[]) returns void
  language sql security definer set search_path = public, pg_temp as $$
  select log_roster_changes(array_agg(c.school_id), array_agg(c.g))
  from ((select o.school_id, o.id, g from unnest(p_before) o, unnest(o.groups) as g where o.active
         except
         select n.school_id, n.id, g from unnest(p_after) n, unnest(n.groups) as g where n.active)
        union
        (select n.school_id, n.id, g from unnest(p_after) n, unnest(n.groups) as g where n.active
         except
         select o.school_id, o.id, g from unnest(p_before) o, unnest(o.groups) as g where o.active)) c
  having count(*) > 0
$$;
revoke execute on function people_changed(people[], people[]) from public;
grant execute on function people_changed(people[], people[]) to tallyflow_api;
