-- 028 (owned by the ingest API's registry, ingest-api/registry/): indexes for the keyset pages
-- of the admin lists (GET /v1/polls, GET /v1/kiosks; ingest-api/registry/registry-store.ts).
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
-- Schools are paged by their primary key (id order), the audit log by the indexes of 027;
-- people by theirs (017/018). The tables here are small (the registry): a plain CREATE INDEX
-- in the migration's transaction holds their writes for well under a second.

create index polls_school_created_idx on polls (school_id, created_at, id);
create index polls_created_idx on polls (created_at, id);
create index kiosks_school_created_idx on kiosks (school_id, created_at, id);
create index kiosks_created_idx on kiosks (created_at, id);
