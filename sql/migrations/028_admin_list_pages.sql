-- 028 (owned by the ingest API: its registry, ingest-api/registry/, and console,
-- ingest-api/console/): indexes for the keyset pages of the admin lists (GET /v1/polls,
-- GET /v1/kiosks: ingest-api/registry/registry-store.ts; GET /v1/audit).
-- Each page is one range of one of these, whatever the deployment holds; without them a page
-- read and sorted the whole table (10,000 kiosks at the reference scale) to return 100 rows.
--
-- polls_school_created_idx, kiosks_school_created_idx: a school's page,
--   where school_id = $1 and (created_at, id) > ($2, $3) order by created_at, id limit $4
-- (a school admin's list, the deployment admin's `?schoolId=`), and the schools list's
-- figures (`school_id = any($1)`, ingest-api/schools/school-store.ts) and the fleet sorted by
-- attention (a school's kiosks), which read only the leading column.
--
-- polls_created_idx, kiosks_created_idx: every school's page (the deployment admin's),
--   where (created_at, id) > ($1, $2) order by created_at, id limit $3
--
-- audit_log (GET /v1/audit, ingest-api/console/audit-store.ts) is paged newest first by
-- (at, id), the cursor an entry id:
--   where [school_id = $1 | actor_id = $1 | action = $1] [and at >= $2 and at < $3]
--     and (at, id) < (select at, id from audit_log where id = $4)
--   order by at desc, id desc limit $5
-- audit_log_at_id_idx serves every school's page and a time window (027's id order could
-- only filter a window, reading every newer entry first: 98,000 rows for a day a month
-- back at 100,000 entries); the three (column, at, id) indexes a school's, an admin's and an
-- action's pages, with or without a window. They replace 027's (column, id) and (at), which
-- served the id order only.
--
-- Schools are paged by their primary key (id order), people by their indexes (017/018).
-- The registry tables are small; the audit log grows (100,000 entries at the reference
-- scale: these are built in about a second, holding its inserts meanwhile, which the
-- recorder writes after each answer).

create index polls_school_created_idx on polls (school_id, created_at, id);
create index polls_created_idx on polls (created_at, id);
create index kiosks_school_created_idx on kiosks (school_id, created_at, id);
create index kiosks_created_idx on kiosks (created_at, id);

create index audit_log_at_id_idx on audit_log (at, id);
create index audit_log_school_at_idx on audit_log (school_id, at, id);
create index audit_log_actor_at_idx on audit_log (actor_id, at, id);
create index audit_log_action_at_idx on audit_log (action, at, id);
drop index audit_log_at_idx;
drop index audit_log_school_idx;
drop index audit_log_actor_idx;
drop index audit_log_action_idx;
