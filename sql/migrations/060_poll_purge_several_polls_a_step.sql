-- 060 (owned by the batch writer): a purge step takes several queued polls at once. Until
-- now (031, 033, 044) a step took one poll: a lesson register (a few rows) cost a step of
-- ~5 ms, nearly all of it the step's fixed cost (a statement per partition of the votes and
-- refusals, each planned and run for two rows), so a retention backlog of 350,000 expired
-- registers a day took ~30 min of Postgres a day, and a year's ~a week (BENCHMARKS.md,
-- "Register retention").
--
-- purge_deleted_polls(p_limit, p_polls): one step, one transaction.
--
-- - Takes up to p_polls queued polls no other writer is purging, in the queue's order
--   (deleted_at, poll_id), FOR UPDATE SKIP LOCKED: two writers' steps take disjoint polls
--   and neither waits for the other's.
-- - Deletes their rows with one statement per table leaf (`poll_id = any(...)`), table by
--   table (votes, voter_ballots, rejected_votes, conflicting_votes), each within a budget of
--   p_limit rows for the step, and stops at the first table whose budget runs out, as 044
--   bounded one poll's: a step deletes about a budget of rows while a big poll lasts, and
--   the longest lock it holds does not grow with p_polls.
-- - An attendance poll's deleted votes mark their person-days dirty, as before, from each
--   poll's school and kind (a school already gone marks nothing: poll-purge.ts's sweep
--   deletes its days). The marks are inserted in key order, so two writers' steps marking
--   the same person-days wait for each other rather than deadlock.
-- - A poll is done (its poll_purges row deleted, its id free again) only when the step
--   proves it has nothing left in any table: a table whose statements deleted fewer rows
--   than its budget holds none of the step's polls any more; in the table where the budget
--   ran out and the tables the step did not reach, each poll is probed (an index probe by
--   poll_id, a few per partition) and only those found empty there count as done (so a
--   register of two votes taken with a big poll is done in that step, while the big poll's
--   votes go on). Any other poll keeps its queue row, its rows_purged grown by what this
--   step deleted of it, and is taken again by a later step.
-- - Returns one row per poll taken, in the queue's order: (poll_id, purged: the rows this
--   step deleted of it, done).
--
-- purge_deleted_polls(p_limit): 044's signature, kept for any caller of it (a writer not yet
-- upgraded): the new function with one poll a step, as 044's was.
--
-- Upgrade: the queue is as it was (a purge begun before keeps its rows_purged); nothing else
-- changes. Parameters: the rows of each table a step deletes at most, the polls it takes at
-- most (both at least 1). Output: a row per poll taken.

create function purge_deleted_polls(p_limit integer, p_polls integer)
  returns table (poll_id text, purged bigint, done boolean)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  ids text[];
  schools text[];
  kinds text[];
  counts bigint[];
  -- Polls the step cannot prove empty: their queue rows stay.
  unproven text[] := '{}';
  found_in text[];
  tbl regclass;
  leaf regclass;
  budget bigint;
  -- A table's budget ran out: the tables after it are not purged this step, only probed.
  stopped boolean := false;
  r record;
  i integer;
begin
  if p_limit is null or p_limit < 1 or p_polls is null or p_polls < 1 then
    raise exception 'purge_deleted_polls: limit and polls must be at least 1 (got %, %)',
      p_limit, p_polls;
  end if;
  select array_agg(q.poll_id order by q.deleted_at, q.poll_id),
         array_agg(q.school_id order by q.deleted_at, q.poll_id),
         array_agg(q.kind order by q.deleted_at, q.poll_id)
    into ids, schools, kinds
  from (select x.poll_id, x.school_id, x.kind, x.deleted_at from poll_purges x
        order by x.deleted_at, x.poll_id limit p_polls for update skip locked) q;
  if ids is null then
    return;
  end if;
  counts := array_fill(0::bigint, array[cardinality(ids)]);

  foreach tbl in array array['votes', 'voter_ballots', 'rejected_votes',
                             'conflicting_votes']::regclass[] loop
    budget := case when stopped then 0 else p_limit end;
    -- A ctid names a row within one partition only (033): a partitioned table is deleted
    -- from leaf by leaf, each by its own ctids; voter_ballots is a plain table, its own leaf.
    for leaf in select c.oid::regclass from pg_class c where c.oid = tbl and c.relkind = 'r'
                union all
                select t.relid from pg_partition_tree(tbl) t where t.isleaf loop
      exit when budget <= 0;
      -- The marking only when the step took an attendance poll: planned per leaf and step,
      -- it would be most of a step of registers' cost.
      for r in execute format(case when tbl = 'votes'::regclass and 'attendance' = any (kinds)
                              then $q$
        with gone as (
          delete from %1$s v
          where v.ctid = any (array(select x.ctid from %1$s x where x.poll_id = any ($1) limit $2))
          returning v.poll_id, v.voter_id, v.cast_at
        ), dirty as (
          insert into attendance_dirty (school_id, person_id, day)
          select distinct p.school_id, g.voter_id, (g.cast_at at time zone s.time_zone)::date
          from gone g
          join unnest($1, $3, $4) as p(poll_id, school_id, kind) on p.poll_id = g.poll_id
          join schools s on s.id = p.school_id
          where p.kind = 'attendance' and g.voter_id is not null
          order by 1, 2, 3
          on conflict do nothing
        )
        select g.poll_id, count(*) as n from gone g group by g.poll_id $q$
        else $q$
        with gone as (
          delete from %1$s v
          where v.ctid = any (array(select x.ctid from %1$s x where x.poll_id = any ($1) limit $2))
          returning v.poll_id
        )
        select g.poll_id, count(*) as n from gone g group by g.poll_id $q$ end, leaf)
        using ids, budget, schools, kinds
      loop
        i := array_position(ids, r.poll_id);
        counts[i] := counts[i] + r.n;
        budget := budget - r.n;
      end loop;
    end loop;

    -- The budget ran out here or before (a leaf or the table may have been left unvisited,
    -- or held more): which of the polls not already known to be left have rows here still.
    if budget <= 0 then
      stopped := true;
      execute format($q$
        select coalesce(array_agg(u.id), '{}') from unnest($1) as u(id)
        where u.id <> all ($2) and exists (select 1 from %s x where x.poll_id = u.id) $q$, tbl)
        into found_in using ids, unproven;
      unproven := unproven || found_in;
    end if;
  end loop;

  delete from poll_purges q where q.poll_id = any (ids) and q.poll_id <> all (unproven);
  update poll_purges q set rows_purged = q.rows_purged + u.n
  from unnest(ids, counts) as u(id, n)
  where q.poll_id = u.id and u.id = any (unproven) and u.n > 0;

  return query
    select u.id, u.n, u.id <> all (unproven)
    from unnest(ids, counts) with ordinality as u(id, n, k) order by u.k;
end $$;
revoke execute on function purge_deleted_polls(integer, integer) from public;
grant execute on function purge_deleted_polls(integer, integer) to tallyflow_writer;

-- 044's signature: one poll a step, through the one home of the purge above. Restated
-- whole: CREATE OR REPLACE resets what it does not say (security definer, search_path).
create or replace function purge_deleted_polls(p_limit integer)
  returns table (poll_id text, purged bigint, done boolean)
  language sql security definer set search_path = public, pg_temp as $$
  select p.poll_id, p.purged, p.done from purge_deleted_polls(p_limit, 1) p $$;
revoke execute on function purge_deleted_polls(integer) from public;
grant execute on function purge_deleted_polls(integer) to tallyflow_writer;
