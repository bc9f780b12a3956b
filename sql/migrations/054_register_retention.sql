-- 054 (owned by the batch writer): lesson registers are kept for REGISTER_RETENTION_DAYS
-- (issue 29: every table that grows with events is bounded). A national deployment makes
-- ~350,000 registers a day, ~128 million a year, each a `polls` row with its options, a
-- register_states row, register_people rows and its events; without this they stay for good
-- (VOTES_RETENTION_DAYS drops the events' months only). Parameters: none. Output: none.
--
-- An expired register is removed exactly as an admin's delete removes a poll, through
-- delete_polls (052; one home for what a delete does, later migrations included):
-- register_states and register_people go with its row (026's foreign keys, cascading), its
-- rollups and change marker at once, its votes, ballots and refusals queued in poll_purges
-- for the writers' bounded purge (031, poll-purge.ts), its document removed by the publisher
-- (the register change log row delete_polls writes, 050/055), the API's caches told (its
-- NOTIFY). Only the choice of which registers, and how many at a time, is new here.

-- The registers by their end, across schools: what the retention step reads, oldest first,
-- N at a time. polls_register_ends_idx (026) leads with the school (the overdue list), so
-- it cannot give the oldest ends of all schools without a probe per school; the starts'
-- index (026) would pass over every register in progress at the horizon at each step (tens
-- of thousands at a country's busiest hour) once the backlog is gone. A register's row is
-- small: the index costs ~30 bytes a register and one entry per insert.
create index polls_register_expiry_idx on polls (ends_at) where kind = 'register';

-- One bounded retention step: deletes at most p_limit registers whose lesson ended more than
-- p_keep_days days ago, oldest end first, in one statement, and returns how many; null when
-- another writer's step holds the lock (writers run it at once: the second returns, not
-- waited for, and no register is deleted twice). A register a writer's batch is storing
-- events for holds a FOR KEY SHARE lock on its poll (poll-incarnations.ts): it is skipped,
-- not waited for, and taken by a later step, so the step never holds a batch, nor a batch
-- the step. Security definer: the polls are the API's, the writer may not delete them
-- otherwise.
create function expire_registers(p_keep_days integer, p_limit integer) returns integer
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n integer;
begin
  if p_keep_days is null or p_keep_days < 1 or p_limit is null or p_limit < 1 then
    raise invalid_parameter_value using
      message = format('expire_registers: keep days and limit must be >= 1, got %s and %s',
                       p_keep_days, p_limit);
  end if;
  if not pg_try_advisory_xact_lock(hashtext('expire_registers')) then
    return null;
  end if;
  select count(*) into n from delete_polls(array(
    select r.id from polls r
    where r.kind = 'register' and r.ends_at < now() - make_interval(days => p_keep_days)
    order by r.ends_at
    limit p_limit
    for update skip locked));
  return n;
end $$;

revoke execute on function expire_registers(integer, integer) from public;
grant execute on function expire_registers(integer, integer) to tallyflow_writer;
