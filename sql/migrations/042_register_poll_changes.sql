-- 042: the register publisher's reads bounded by what changed (issue 26, docs/registers.md).
-- A register's document depends on its state (register_states.tx_id, indexed, 026), on its
-- school's roster before its completion (attendance_school_changes, 023) and on its poll:
-- a new register has no state row until an event, and a deleted one leaves no row at all
-- (register_states cascades). Without a log of its polls the publisher could only find
-- those by reading every kept register and its version in Redis at every run (2.45 million
-- at a country's 350,000 lessons a day, 7 days kept). register_poll_changes: a row per
-- register inserted, deleted, or changed in what its document shows, written by a trigger
-- in the transaction that changes the poll, read with a snapshot cursor as 025's log is.
-- Parameters: none. Output: none.

create table register_poll_changes (
  tx_id xid8 not null default pg_current_xact_id(),
  poll_id text not null,
  changed_at timestamptz not null default now()
);
create index register_poll_changes_tx_idx on register_poll_changes (tx_id);
-- The pruning's range.
create index register_poll_changes_at_idx on register_poll_changes (changed_at);

-- Security definer: the API creates and edits polls, the writer's purge deletes them; the
-- log is neither's to write otherwise.
create function log_register_poll_change() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_op = 'DELETE' then
    if old.kind = 'register' then
      insert into register_poll_changes (poll_id) values (old.id);
    end if;
    return null;
  end if;
  if new.kind = 'register' then
    insert into register_poll_changes (poll_id) values (new.id);
  end if;
  return null;
end $$;
create trigger polls_register_inserted after insert on polls
  for each row when (new.kind = 'register') execute function log_register_poll_change();
create trigger polls_register_deleted after delete on polls
  for each row when (old.kind = 'register') execute function log_register_poll_change();
-- What the document shows of its poll (register-document.ts).
create trigger polls_register_updated after update on polls
  for each row when (new.kind = 'register' and (
    new.title is distinct from old.title or new.starts_at is distinct from old.starts_at
    or new.ends_at is distinct from old.ends_at or new.group_ids is distinct from old.group_ids
    or new.school_id is distinct from old.school_id))
  execute function log_register_poll_change();

-- Changes older than 64 days (as 025's: a running leader's cursor is seconds old), up to
-- p_limit; returns how many. The writer's upkeep calls it (batch-writer/presence-upkeep.ts).
create function register_prune_poll_changes(p_limit integer) returns integer
language sql as $$
  with gone as (
    delete from register_poll_changes
    where ctid in (select ctid from register_poll_changes
                   where changed_at < now() - interval '64 days' limit p_limit)
    returning 1
  )
  select count(*)::integer from gone
$$;

grant select on register_poll_changes to tallyflow_publisher, tallyflow_analyst;
grant select, delete on register_poll_changes to tallyflow_writer;
revoke execute on function register_prune_poll_changes(integer) from public;
grant execute on function register_prune_poll_changes(integer) to tallyflow_writer;
