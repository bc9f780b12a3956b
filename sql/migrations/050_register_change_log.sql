-- 050: the lesson registers' change tracking without transaction ids (issue #29, "Years of
-- votes"; docs/registers.md, "Documents"; as 048 did for the vote results). Parameters: none.
-- Output: none.
--
-- Until now the register publisher read, since its last run's snapshot (a cursor in Redis),
-- the register_states rows whose tx_id it had not seen (026) and the rows of
-- register_poll_changes (042) likewise. Citus cannot compare transaction ids across nodes,
-- and one long transaction anywhere (an analyst's query) holds every snapshot's xmin back:
-- each run then scanned every row written since it began.
--
-- Now register_change_log holds a row per register whose document may have changed and
-- that no publishing run has consumed yet: written by the writer in the batch's transaction
-- (its state recomputed), by a trigger in the transaction that creates, edits or deletes a
-- register's poll, and by an erasure. One row per poll, upserted: its change_seq is +1 per
-- change, under the row's lock, so a publisher that read (poll, S) deletes the row only if
-- it still says S (a change committed since has moved it, and stays for the next run). The
-- publishing leader reads the whole table in its run's snapshot, publishes, then deletes
-- what it published (fenced by its lock: result-publisher/leader.ts HOLDS_PUBLISHER_LOCK);
-- the rows of registers it still owes stay. An idle system reads an empty table, and no
-- transaction id is compared.
--
-- changed_at: when the row was logged, kept by later changes (the upsert does not move it,
-- so the only index besides the key is written once per row, and changes are heap-only
-- updates): the age of the oldest change not consumed, and the pruning's range.
--
-- Upgrade (a deployment at 042–049 with kept registers): every row of register_poll_changes
-- is kept as a change (its poll ids, once each: a deleted register's document is still
-- removed). Which register_states rows the last run had not seen is known only from the
-- cursor in Redis, which a migration cannot read: the publisher keeps its cursor under a new
-- key (common/register-contract.ts registerCursorKey), so its first run after the upgrade
-- finds none and rebuilds every kept register's document, as after a Redis lost.

create table register_change_log (
  poll_id text primary key,
  change_seq bigint not null default 1,
  changed_at timestamptz not null default now()
);
-- The pruning's range.
create index register_change_log_at_idx on register_change_log (changed_at);

insert into register_change_log (poll_id, changed_at)
select poll_id, min(changed_at) from register_poll_changes group by poll_id;

drop function register_prune_poll_changes(integer);
drop table register_poll_changes;

drop index register_states_tx_idx;
alter table register_states drop column tx_id;

-- Logs a change of each of these registers: its row inserted, or its change_seq moved
-- (under the row's lock until commit, which orders a register's changes), in poll order as
-- every writer of the log takes them. The one home of the upsert: the writer's batch
-- (batch-writer/register-upkeep.ts), the polls' triggers and the erasure call it.
create function log_register_changes(p_poll_ids text[]) returns void
language sql security definer set search_path = public, pg_temp as $$
  insert into register_change_log as l (poll_id)
  select distinct id from unnest(p_poll_ids) as u(id) order by id
  on conflict (poll_id) do update set change_seq = l.change_seq + 1
$$;
revoke execute on function log_register_changes(text[]) from public;
grant execute on function log_register_changes(text[]) to tallyflow_writer;

-- The triggers of 042 unchanged (a register inserted, deleted, or edited in what its
-- document shows), now logging here. Security definer: the API creates and edits polls, the
-- writer's purge deletes them; the log is neither's to write otherwise.
create or replace function log_register_poll_change() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_op = 'DELETE' then
    if old.kind = 'register' then
      perform log_register_changes(array[old.id]);
    end if;
    return null;
  end if;
  if new.kind = 'register' then
    perform log_register_changes(array[new.id]);
  end if;
  return null;
end $$;

-- Rows logged more than 64 days ago and never consumed (no publisher ran), up to p_limit;
-- returns how many. The writer's upkeep calls it (batch-writer/presence-upkeep.ts), as 042's.
-- By key, not ctid: Citus routes a delete by its distribution column.
create function register_prune_poll_changes(p_limit integer) returns integer
language sql as $$
  with gone as (
    delete from register_change_log
    where poll_id in (select poll_id from register_change_log
                      where changed_at < now() - interval '64 days' limit p_limit)
    returning 1
  )
  select count(*)::integer from gone
$$;

-- The writer logs through log_register_changes, and prunes.
grant select, delete on register_change_log to tallyflow_writer;
grant select, delete on register_change_log to tallyflow_publisher;
grant select on register_change_log to tallyflow_analyst;
revoke execute on function register_prune_poll_changes(integer) from public;
grant execute on function register_prune_poll_changes(integer) to tallyflow_writer;

-- 029's erasure, its register part logging the registers it renamed someone in instead of
-- moving their tx_id; the rest as 029 wrote it. Lock order as the writer's: register_states
-- rows first (poll order), then register_people, then the log rows (poll order).
create or replace function erase_person_events(p_school_id text, p_person_id text, p_pseudonym text)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n bigint;
begin
  perform 1 from register_states s
    where s.school_id = p_school_id
      and (p_person_id = any(s.roster)
           or exists (select 1 from register_people rp
                      where rp.poll_id = s.poll_id and rp.person_id = p_person_id))
    order by s.poll_id for update;
  update register_states s set
    roster = (select array_agg(r order by r collate "C")
              from unnest(array_replace(s.roster, p_person_id, p_pseudonym)) as u(r)),
    updated_at = now()
    where s.school_id = p_school_id and p_person_id = any(s.roster);
  with renamed as (
    update register_people rp set person_id = p_pseudonym
      from register_states s
      where s.poll_id = rp.poll_id and s.school_id = p_school_id and rp.person_id = p_person_id
      returning rp.poll_id
  )
  update register_states s set updated_at = now()
    where s.poll_id in (select poll_id from renamed);
  -- The registers that now name the pseudonym: those renamed above.
  perform log_register_changes(array(
    select s.poll_id from register_states s
    where s.school_id = p_school_id
      and (p_pseudonym = any(s.roster)
           or exists (select 1 from register_people rp
                      where rp.poll_id = s.poll_id and rp.person_id = p_pseudonym))));
  update votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  get diagnostics n = row_count;
  update voter_ballots set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update rejected_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update conflicting_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  with renamed as (
    update attendance_days set person_id = p_pseudonym, tx_id = pg_current_xact_id(), updated_at = now()
      where school_id = p_school_id and person_id = p_person_id
      returning day
  )
  insert into attendance_day_changes (school_id, day) select distinct p_school_id, day from renamed;
  delete from attendance_dirty where school_id = p_school_id and person_id = p_person_id;
  return n;
end $$;
