-- 058: the publishing leader's deletes of poll_change_log (048, 053) and register_change_log
-- (050) take their rows in poll_id order, the order every writer of those logs takes them
-- (issue #29; result-publisher/change-logs-concurrency.test.ts). Parameters: none. Output:
-- none.
--
-- A batch upserts its polls' poll_change_log rows in poll_id order (after their
-- poll_changes rows), and log_register_changes upserts register_change_log rows in poll_id
-- order (after the batch's register_states rows). The leader's delete took the rows it read
-- in whatever order its join gave (the table's heap, or the order of the ids it passed):
-- holding a row a batch was about to upsert while it waited for one that batch held, it
-- deadlocked with the batch (40P01: the batch retried, or the run failed and was done again
-- at the next tick). poll_change_log's did, several times in 12 s with three writers over
-- six polls; register_change_log's passes its ids sorted, which a nested loop keeps but a
-- hash join probing the table's heap does not (a plan of some sizes). Now the
-- delete first locks the rows it read, FOR UPDATE under an ORDER BY poll_id (rows are locked
-- as the sort returns them), and deletes those: the leader and a batch then only wait for
-- each other. FOR UPDATE needs an UPDATE right on a column of the table: one the publisher
-- never updates, as 056 granted on register_roster_change_log.
--
-- Upgrade: grants only; nothing to move.

grant update (change_seq) on poll_change_log to tallyflow_publisher;
grant update (changed_at) on register_change_log to tallyflow_publisher;
