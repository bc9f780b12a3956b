-- The Citus layout of tallyflow's schema: every table of sql/migrations, in the order the
-- calls must run on the coordinator (docs/citus.md: the deployment, and why each table is
-- where it is). This file is the one home of the decision: sql/citus/citus-rules.test.ts
-- reads these calls and checks the migrated schema against Citus's rules for them, and a
-- table a migration adds without a line here fails that test.
--
-- Not runnable as it stands: Citus refuses the tables with triggers, and the change
-- tracking by transaction id would not work (votes' dedupe key names the poll since
-- migration 047); the test lists each such exception with its reason and its fix. Run it, after those are fixed, as the database owner, on the
-- coordinator, once the migrations have run and before the services start:
--
--   create extension citus;
--   select citus_set_coordinator_host('<coordinator host>', 5432);
--   select citus_add_node('<worker host>', 5432);   -- once per worker
--   \i sql/citus/distribution.sql
--
-- The parser (sql/citus/citus-plan.ts) reads only the `select create_reference_table(…)`,
-- `select create_distributed_table(…)` and `select citus_add_local_table_to_metadata(…)`
-- calls below; one table a call, names unquoted and unqualified (schema public).

-- Reference tables: the registry, written rarely, read by the writer's and the
-- publisher's statements together with the distributed tables of both groups below (polls
-- with the staged votes, a register's state with its school's roster in people, a school's
-- holidays with its presence state); a copy on every node, so those joins stay on one node
-- whichever shard the other side is on. Referenced tables first: a foreign key needs its
-- target to be a Citus table already.
select create_reference_table('schools');
select create_reference_table('polls');
select create_reference_table('poll_options');
select create_reference_table('kiosks');
select create_reference_table('people');
select create_reference_table('school_holidays');

-- Distributed by poll_id, one colocation group (anchored on votes): every table that grows
-- with a poll's events. The writer's transaction touches these rows for one poll together
-- (a vote, its rollup bucket, its change marker and change log row, its ballot, its
-- refusal or duplicate count), and the publisher reads them per poll: each of those statements then runs on the
-- one shard holding the poll.
select create_distributed_table('votes', 'poll_id', colocate_with => 'none');
select create_distributed_table('vote_rollups', 'poll_id', colocate_with => 'votes');
select create_distributed_table('poll_changes', 'poll_id', colocate_with => 'votes');
select create_distributed_table('poll_change_log', 'poll_id', colocate_with => 'votes');
select create_distributed_table('voter_ballots', 'poll_id', colocate_with => 'votes');
select create_distributed_table('duplicate_counts', 'poll_id', colocate_with => 'votes');
select create_distributed_table('rejected_votes', 'poll_id', colocate_with => 'votes');
select create_distributed_table('conflicting_votes', 'poll_id', colocate_with => 'votes');
select create_distributed_table('register_states', 'poll_id', colocate_with => 'votes');
select create_distributed_table('register_people', 'poll_id', colocate_with => 'votes');
select create_distributed_table('register_change_log', 'poll_id', colocate_with => 'votes');

-- Distributed by school_id, a colocation group of its own (anchored on attendance_days):
-- the presence state of "Attendance" is per school, person and day, built from the events
-- of all of a school's attendance polls (many polls), kept and published per school and
-- day. school_id, not poll_id, is what its rows and statements share.
select create_distributed_table('attendance_days', 'school_id', colocate_with => 'none');
select create_distributed_table('attendance_dirty', 'school_id', colocate_with => 'attendance_days');
select create_distributed_table('attendance_day_changes', 'school_id', colocate_with => 'attendance_days');
select create_distributed_table('attendance_school_change_log', 'school_id', colocate_with => 'attendance_days');
-- The lesson registers' rosters' log (056): a row per school, written with people (a
-- reference table) and consumed by the register publisher, which logs the registers it
-- concerns in register_change_log (by poll_id: a statement across shards, see docs/citus.md).
select create_distributed_table('register_roster_change_log', 'school_id', colocate_with => 'attendance_days');

-- Local, on the coordinator (Citus local tables: in the metadata, so that workers may query
-- them and they may keep their foreign keys to the reference tables; the ones with such a
-- key were already converted by create_reference_table, this call keeps them so). The
-- console's sessions and credentials, the audit log, the migrations' own log, the purge
-- log of deleted polls, and the dead letters (undecodable messages: no poll to shard by).
-- None grows with votes, none is joined with a distributed table on the hot path.
select citus_add_local_table_to_metadata('schema_migrations');
select citus_add_local_table_to_metadata('school_admins');
select citus_add_local_table_to_metadata('school_teachers');
select citus_add_local_table_to_metadata('console_invites');
select citus_add_local_table_to_metadata('console_sessions');
select citus_add_local_table_to_metadata('kiosk_pairing_codes');
select citus_add_local_table_to_metadata('audit_log');
select citus_add_local_table_to_metadata('poll_purges');
select citus_add_local_table_to_metadata('dead_letters');
-- The writers' partition maintenance's own table (migration 044: which tables are partitioned
-- by month, and how): read by the maintenance functions, which run on the coordinator.
select citus_add_local_table_to_metadata('time_partitioned_tables');
