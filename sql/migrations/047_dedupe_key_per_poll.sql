-- 047 (owned by the batch writer): the dedupe key names the poll (issue #29, "Years of
-- votes"; docs/citus.md, "The dedupe key per shard").
--
-- An event's identity is (poll, event id). Each partition's unique key becomes:
--   votes              (poll_id, event_id)   was (event_id)            (033)
--   rejected_votes     (poll_id, event_id)   was (event_id)            (044)
--   conflicting_votes  (poll_id, id)         was (id), on the default partition only (044: the
--                      identity was unique by its sequence alone in the monthly ones); the
--                      clash's own key (event_id, kiosk_id, poll_id, option_id, voter_id)
--                      stays, it holds the poll already.
--
-- Why: a resend carries the same event id and the same poll, so it meets its first copy under
-- either key (the partition is still the event id's month, 033: a resend years later, across a
-- month, or with a corrected castAt lands beside its first copy). What changes is an event id
-- reused for ANOTHER poll: under (event_id) a conflict, kept in conflicting_votes and counted
-- nowhere; now a vote of its own poll, stored and counted there. A clash within one poll
-- (another kiosk, option or voter) stays a conflict (batch-writer/event-id-conflicts.ts
-- looks the stored vote up by poll and event id). This is the key Citus can enforce
-- (sql/citus/distribution.sql distributes these tables by poll_id, and a unique key there must
-- hold the distribution column: each shard checks it alone); the ingest API's JetStream
-- message id already digests the poll (ingest-api/votes/message-id.ts).
--
-- The dedupe horizon is unchanged: for ever (within VOTES_RETENTION_DAYS, 035), now per poll.
--
-- Indexes (BENCHMARKS.md "Index audit"): the new keys lead with poll_id, so a lookup by poll
-- alone uses them, and rejected_votes_poll_idx and conflicting_votes_poll_idx (poll_id, 031
-- and 044: the purge's per-partition delete of a poll's rows, report 08 by poll) become
-- redundant: dropped. votes keeps votes_poll_cast_idx and votes_poll_voter_cast_idx (041): the
-- key serves no (poll_id, cast_at) range. Every writer probe by event id names the poll too
-- and reads the key, in the one partition the event id's time names.
--
-- Cost on an existing deployment: one unique index built per partition of the three tables
-- (CREATE INDEX: a scan and a sort of the partition, under a SHARE lock, which refuses
-- writes, not reads, for its duration), then the old one dropped. Partitions cannot be
-- re-keyed CONCURRENTLY inside a migration's transaction; apply it between peaks. Both keys
-- hold until the transaction commits, so no resend gets in meanwhile.

update time_partitioned_tables set unique_keys = '{"(poll_id, event_id)"}'
  where parent in ('votes', 'rejected_votes');
update time_partitioned_tables
  set unique_keys = '{"(poll_id, id)",'
                    '"(event_id, kiosk_id, poll_id, option_id, voter_id) NULLS NOT DISTINCT"}'
  where parent = 'conflicting_votes';

-- Every leaf of the three tables: the new keys built (time_partitions_without_key, 044,
-- names what a leaf lacks by the list above), then every unique index the list no longer
-- names dropped (or the primary key holding it: the default partitions are the old tables,
-- keyed by primary keys).
do $$
declare
  k record;
begin
  for k in
    select w.leaf, w.spec
    from time_partitioned_tables p cross join lateral time_partitions_without_key(p.parent) w
    where p.parent in ('votes', 'rejected_votes', 'conflicting_votes')
    order by p.parent, w.leaf::text, w.spec
  loop
    execute format('create unique index on %s %s', k.leaf, k.spec);
  end loop;

  for k in
    select t.relid::regclass as leaf, i.indexrelid::regclass as idx, c.conname
    from time_partitioned_tables p
    cross join lateral pg_partition_tree(p.parent::regclass) t
    join pg_index i on i.indrelid = t.relid
    left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid
    where p.parent in ('votes', 'rejected_votes', 'conflicting_votes')
      and t.isleaf and i.indisunique
      and not exists (
        select 1 from unnest(p.unique_keys) as u(spec)
        where i.indpred is null
          and pg_get_indexdef(i.indexrelid) like '% USING btree ' || u.spec)
    order by 1, 2
  loop
    if k.conname is null then
      execute format('drop index %s', k.idx);
    else
      execute format('alter table %s drop constraint %I', k.leaf, k.conname);
    end if;
  end loop;
end $$;

-- Made redundant by the keys above (each leads with poll_id).
drop index rejected_votes_poll_idx;
drop index conflicting_votes_poll_idx;
