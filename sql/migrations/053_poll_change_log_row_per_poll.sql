-- 053 (owned by the batch writer): the publisher's change log holds a row per poll, not a row
-- per poll per batch (issue #29; docs/pipeline.md, "What a run reads"). Parameters: none.
-- Output: none.
--
-- Since 048 every batch inserted a poll_change_log row per poll it changed, and only the
-- publishing leader deletes them, once published. While no publisher runs (every publisher
-- down, or cut from Postgres), the log grew by a row per poll per batch: at the reference
-- peak (a batch a second over a thousand polls) 3.6 million rows an hour, and the first run
-- back read and deleted them all (10 s at that size, 32x a normal run: BENCHMARKS.md,
-- "Result publisher"), each dead row then vacuum's work.
--
-- Now the row is the poll's: a batch upserts it with its change_seq. The writer already
-- holds the poll's poll_changes row lock for the batch (its change_seq is that row's), so
-- this row's lock adds no wait, and two batches of a poll set it in their commit order.
-- The publisher's rule is unchanged: it reads the log in its run's snapshot and, once it has
-- published, deletes a row only if its change_seq is still at most the one it read. A batch
-- that set a higher one meanwhile (the row lock orders the two) keeps the row for the next
-- run; a delete that commits first leaves the batch's upsert to insert a new row. The log is
-- never bigger than the polls that changed since the last run, whatever the outage.
-- change_seq is not indexed: the upsert is a heap-only update.

lock table poll_change_log in access exclusive mode;
delete from poll_change_log l
using (select poll_id, max(change_seq) as last from poll_change_log group by poll_id) m
where l.poll_id = m.poll_id and l.change_seq < m.last;
alter table poll_change_log drop constraint poll_change_log_pkey;
alter table poll_change_log add primary key (poll_id);

-- ON CONFLICT DO UPDATE needs UPDATE on what it sets and SELECT on what it reads.
grant select (poll_id, change_seq), update (change_seq) on poll_change_log to tallyflow_writer;
