-- 055 (owned by the ingest API): a register poll's creation, edit and deletion are logged in
-- register_change_log (050) by the statements that make them, in their transaction, not by
-- triggers on polls (issue #29, docs/citus.md "Triggers"): polls is a Citus reference
-- table, and Citus refuses a trigger on one (with citus.enable_unsafe_triggers it would run
-- on each shard placement, on the workers, where the log, a distributed table, is not
-- routed). These were the last triggers on polls. Parameters: none. Output: none.
--
-- The rule is 042's, unchanged: a register (kind = 'register') is logged when inserted, when
-- deleted, and when an update changes what its document shows of its poll (title, starts_at,
-- ends_at, group_ids, school_id: result-publisher/register-document.ts); any other poll, or
-- an update of another column (archived_at, time_zone, ...), logs nothing. Each write of
-- polls is followed (or made) by one of 052's functions, which now log too:
-- - polls_inserted: after inserting polls (the API's create; a test or bench inserting
--   registers in SQL calls it too, as it must for the notification already);
-- - polls_updated (new): given the updated rows before and after, as one statement's
--   `update polls p ... from polls o where o.id = p.id returning o, p` gives them
--   (ingest-api/registry/registry-changes.ts updatePolls): notifies them, and logs the
--   registers whose shown columns changed. The old values come from the statement's
--   snapshot; the API holds the poll's row lock (lockPoll) before it updates, so no other
--   update slips between;
-- - delete_polls: the one path deleting polls (an admin's delete, a school's, the register
--   retention), now logging the registers it deleted.
-- Security definer, polls_inserted and polls_updated now as delete_polls was: the log is the
-- writer's and the publisher's, the API's role has no rights on it (log_register_changes
-- stays the writer's); what the API can do is only what these functions do.
--
-- Upgrade: the log's rows are untouched (what the publisher has not consumed stays), and a
-- change committed before the upgrade was logged by the triggers.

drop trigger polls_register_inserted on polls;
drop trigger polls_register_updated on polls;
drop trigger polls_register_deleted on polls;
drop function log_register_poll_change();

-- 052's, logging the registers among them (as the insert trigger did).
create or replace function polls_inserted(p_poll_ids text[]) returns void
  language plpgsql security definer set search_path = public, pg_temp as $$
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
  perform log_register_changes(array(
    select p.id from polls p where p.id = any(p_poll_ids) and p.kind = 'register'));
end $$;

-- After updating polls, in that statement or transaction: p_before[i] and p_after[i] are one
-- poll's row before and after (an update's `returning o, p`, aggregated in one order).
-- Notifies `polls:<id>` for each, and logs each register whose document shows a column that
-- changed: the one home of 042's update rule. Pure in its inputs (it reads no polls row), so
-- it runs in the updating statement itself, which sees neither version afterwards.
create function polls_updated(p_before polls[], p_after polls[]) returns void
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if coalesce(cardinality(p_before), 0) <> coalesce(cardinality(p_after), 0) then
    raise invalid_parameter_value using message = format(
      'polls_updated: %s rows before, %s after: give each updated poll''s both',
      coalesce(cardinality(p_before), 0), coalesce(cardinality(p_after), 0));
  end if;
  perform notify_registry_rows('polls', array(select (a).id from unnest(p_after) a));
  perform log_register_changes(array(
    select (p_after[i]).id from generate_subscripts(p_after, 1) i
    where (p_after[i]).kind = 'register'
      and ((p_after[i]).title, (p_after[i]).starts_at, (p_after[i]).ends_at,
           (p_after[i]).group_ids, (p_after[i]).school_id)
          is distinct from
          ((p_before[i]).title, (p_before[i]).starts_at, (p_before[i]).ends_at,
           (p_before[i]).group_ids, (p_before[i]).school_id)));
end $$;

-- 052's, logging the registers it deleted (as the delete trigger did), after the delete:
-- register_states and register_people rows go by cascade first, then the log rows, the
-- order of the writer's locks (batch-writer/register-upkeep.ts).
create or replace function delete_polls(p_ids text[]) returns setof text
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
  perform log_register_changes(array(
    select g.id from unnest(ids, kinds) as g(id, kind) where g.kind = 'register'));
  perform notify_registry_rows('polls', ids);
  return query select unnest(ids);
end $$;

revoke execute on function polls_updated(polls[], polls[]) from public;
grant execute on function polls_updated(polls[], polls[]) to tallyflow_api;
