-- 056: the lesson registers' roster tracking without transaction ids (issue #29, "Years of
-- votes"; docs/registers.md, "Documents"). Parameters: none. Output: none.
--
-- A register not completed lists the group's active members still to be said: its document
-- depends on the school's roster (people: id, groups, active) until its completion (then on
-- the completion's roster, stored). Until now the register publisher read the schools whose
-- roster changed from attendance_school_changes (023: a row per school, its tx_id xid8 moved
-- by the triggers on people, school_holidays and schools), since its last run's snapshot (a
-- cursor in Redis): the last change tracking by transaction id, which Citus cannot compare
-- across nodes. Attendance consumes its own log since 051.
--
-- Now register_roster_change_log holds a row per school whose roster changed and that no
-- publishing run has consumed yet, with the groups whose members changed (`groups`: a
-- person added to or removed from a group, deactivated, reactivated, deleted, renamed by an
-- erasure): written by 023's statement-level trigger on people, in the transaction of the
-- change, one upsert per school and statement (an import of 10,000 people is one row, its
-- groups merged into what the row already held). Holidays and a school's rules are no part
-- of a register's document and log nothing here.
--
-- Why the school's groups, not the registers themselves (register_change_log): which
-- registers a change affects is only known for certain in the publisher's snapshot. A
-- trigger listing them would miss a register created in a transaction that commits between
-- the roster statement and the roster transaction's commit (invisible to the trigger, read
-- by a publisher run whose snapshot does not see the roster change yet: its document would
-- keep the old members). And the trigger does not know the publisher's REGISTER_DAYS_KEPT.
-- The publishing leader turns the rows into register_change_log rows instead
-- (result-publisher/register-store.ts expandRosterChanges): in one transaction, fenced by
-- its lock, it deletes the rows no roster transaction holds (SKIP LOCKED: one left open
-- does not hold the leader's runs; its row is consumed once it commits) and logs, through log_register_changes, the registers of those groups it keeps
-- that are not completed, read after the delete: a register committed before that read is
-- logged, one committed after it is logged by its own creation and built in a snapshot that
-- sees every roster change consumed (they committed before the delete ended). From there a roster change is a register change like any other: published,
-- owed across runs and leaders within the budget, deleted once published.
--
-- attendance_school_changes and its tx_id go: nothing reads them any more.
--
-- Upgrade: the schools a deployment at 055 changed since its register publisher's last run
-- are known only from that publisher's cursor in Redis (a snapshot). The publisher from 056
-- on keeps in that key a value of its own (common/register-contract.ts REGISTER_SENTINEL);
-- finding a snapshot there (or nothing) it rebuilds every kept register's document, within
-- the budget a run, as after a Redis lost. Nothing pending is lost
-- (sql/register-roster-migration.test.ts).

create table register_roster_change_log (
  school_id text primary key,
  groups text[] not null,
  -- When the row was logged, kept by later changes: the age of the oldest roster change
  -- not consumed.
  changed_at timestamptz not null default now()
);

-- 051's, now also logging the groups of a people statement whose members changed. The
-- groups changed by a statement: for each person, the groups they are an active member of
-- after it and not before, or before and not after (a row whose key changed counts as one
-- gone and one new); a statement that changed no membership (a name) logs none.
create or replace function mark_attendance_school_changed() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_table_name = 'schools' then
    insert into attendance_school_change_log (school_id) values (new.id) on conflict do nothing;
    return null;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into attendance_school_change_log (school_id)
      select distinct school_id from new_rows on conflict do nothing;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    insert into attendance_school_change_log (school_id)
      select distinct school_id from old_rows on conflict do nothing;
  end if;
  if tg_table_name = 'people' then
    if tg_op = 'INSERT' then
      perform log_roster_changes(array_agg(n.school_id), array_agg(g))
      from new_rows n, unnest(n.groups) as g where n.active;
    elsif tg_op = 'DELETE' then
      perform log_roster_changes(array_agg(o.school_id), array_agg(g))
      from old_rows o, unnest(o.groups) as g where o.active;
    else
      perform log_roster_changes(array_agg(c.school_id), array_agg(c.g))
      from ((select o.school_id, o.id, g from old_rows o, unnest(o.groups) as g where o.active
             except
             select n.school_id, n.id, g from new_rows n, unnest(n.groups) as g where n.active)
            union
            (select n.school_id, n.id, g from new_rows n, unnest(n.groups) as g where n.active
             except
             select o.school_id, o.id, g from old_rows o, unnest(o.groups) as g where o.active)) c;
    end if;
  end if;
  return null;
end $$;

-- Logs that these (school, group) pairs' members changed: a row per school, upserted, its
-- groups merged. In school order (the rows' locks, held to commit, in one order for every
-- statement). The one home of the upsert; the people trigger above calls it.
create function log_roster_changes(p_school_ids text[], p_group_ids text[]) returns void
language sql security definer set search_path = public, pg_temp as $$
  insert into register_roster_change_log as l (school_id, groups)
  select u.school_id, array_agg(distinct u.group_id order by u.group_id)
  from unnest(p_school_ids, p_group_ids) as u(school_id, group_id)
  where u.school_id is not null
  group by u.school_id
  order by u.school_id
  on conflict (school_id) do update set
    groups = array(select distinct g from unnest(l.groups || excluded.groups) as g order by g)
$$;
revoke execute on function log_roster_changes(text[], text[]) from public;

drop table attendance_school_changes;

-- The publishing leader consumes the rows and logs the registers they concern. Its delete
-- skips the rows a roster transaction holds (FOR UPDATE SKIP LOCKED), which needs an UPDATE
-- right on a column: one, which it never updates.
grant select, delete on register_roster_change_log to tallyflow_publisher;
grant update (changed_at) on register_roster_change_log to tallyflow_publisher;
grant select on register_roster_change_log to tallyflow_analyst;
grant execute on function log_register_changes(text[]) to tallyflow_publisher;
