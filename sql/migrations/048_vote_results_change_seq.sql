-- 048 (owned by the batch writer): the vote results' change tracking without transaction ids
-- (issue #29, "Years of votes"; docs/pipeline.md, "What a run reads"). Parameters: none.
-- Output: none.
--
-- Until now (005) every vote_rollups and poll_changes row carried the id of the transaction
-- that last wrote it (tx_id xid8), and a publisher run read `tx_id >= <last run's snapshot
-- xmin>`. Citus cannot compare transaction ids across nodes, and one long transaction
-- anywhere in the cluster (an analyst's query, a benchmark in another database) holds every
-- snapshot's xmin back: each run then re-read every row written since it began.
--
-- Now a poll's own counter orders its writes. poll_changes.change_seq is already +1 per
-- batch that changed the poll, and the row lock of that update is held until commit, so a
-- poll's batches commit in change_seq order: a snapshot that sees change_seq S for a poll
-- sees every batch of it numbered <= S, and none above. The writer upserts poll_changes
-- first and stamps each rollup row it writes with its batch's change_seq for that poll
-- (vote_rollups.change_seq): a publisher that holds a poll's rollups as of S reads
-- `change_seq > S` and misses nothing. 0 is a row written outside the writer (bulk loads
-- in benchmarks and test data sets): a publisher's first, full read of a poll reads it.
--
-- Which polls changed: poll_change_log, one row per poll per batch, inserted in the batch's
-- transaction. The publishing leader reads it in its run's snapshot, publishes, and only
-- then deletes what it read (per poll, change_seq <= the highest it read): a row committed
-- in between stays for the next run. Nothing here is a transaction id, and a long
-- transaction elsewhere changes nothing in what a run reads.
--
-- The attendance and register tables keep their tx_id (register_states, attendance_days,
-- their change logs): their publishers' cursors are for another issue.

alter table vote_rollups add column change_seq bigint not null default 0;
drop index vote_rollups_poll_tx_idx;
-- The publisher's delta read: poll_id = $1 and change_seq > $2.
create index vote_rollups_poll_change_idx on vote_rollups (poll_id, change_seq);
alter table vote_rollups drop column tx_id;

alter table poll_changes drop column tx_id;

create table poll_change_log (
  poll_id text not null,
  change_seq bigint not null,
  primary key (poll_id, change_seq)
);

grant insert on poll_change_log to tallyflow_writer;
grant select, delete on poll_change_log to tallyflow_publisher;
grant select on poll_change_log to tallyflow_analyst;

-- Replaced with its rights restated (CREATE OR REPLACE resets what it does not say; 016,
-- 031): a deleted poll's change log goes with its change marker. In the writers' lock order
-- now (poll_changes, then its log, then the rollup rows), though the poll row's lock already
-- keeps a writer and this delete apart (poll-incarnations.ts takes FOR KEY SHARE on it).
create or replace function delete_poll_writer_rows() returns trigger language plpgsql
  security definer set search_path = public, pg_temp as $$
begin
  delete from poll_changes where poll_id = old.id;
  delete from poll_change_log where poll_id = old.id;
  delete from vote_rollups where poll_id = old.id;
  delete from duplicate_counts where poll_id = old.id;
  insert into poll_purges (poll_id, incarnation, school_id, kind)
  values (old.id, old.incarnation, old.school_id, old.kind);
  return null;
end;
$$;
