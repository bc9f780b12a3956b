-- 027 (owned by the ingest API's console, ingest-api/console/): invites, console sessions and
-- the audit log of admin actions.
--
-- console_invites: a single-use link an admin gives another (the code in the URL's fragment).
-- Only the sha256 of the code is kept (128 random bits: a slow hash adds nothing). school_id
-- null: the invite signs in as the deployment admin.
--
-- console_sessions: a signed-in browser. Only the sha256 of the cookie's value is kept; every
-- request reads its row (revocation and expiry hold at once). A school admin's session acts as
-- a school_admins row made when the invite was used (no token is ever shown for it): revoking
-- that admin (DELETE …/admins/:id) ends its sessions with it (the cascade).
--
-- audit_log: every state-changing admin request that succeeded, through a bearer token or a
-- session. Append-only for the API: its role may INSERT and SELECT, never UPDATE or DELETE.
-- No foreign keys: an entry outlives its school, admin and object. Paged by id (keyset).

create table console_invites (
  code_hash bytea primary key,
  school_id text references schools (id) on delete cascade,
  label text not null check (length(label) between 1 and 200),
  created_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index console_invites_expires_idx on console_invites (expires_at);

create table console_sessions (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  token_hash bytea not null unique,
  csrf_token text not null,
  school_id text references schools (id) on delete cascade,
  admin_id text references school_admins (id) on delete cascade,
  label text not null,
  address text,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  check ((school_id is null) = (admin_id is null))
);
create index console_sessions_school_idx on console_sessions (school_id, created_at);

create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  school_id text,
  actor_kind text not null check (actor_kind in ('deployment', 'school', 'teacher')),
  actor_id text,
  session_id text,
  action text not null,
  object_id text,
  address text,
  status integer not null,
  changes jsonb
);
create index audit_log_school_idx on audit_log (school_id, id);
create index audit_log_actor_idx on audit_log (actor_id, id);
create index audit_log_action_idx on audit_log (action, id);
create index audit_log_at_idx on audit_log (at);

grant select, insert, update, delete on console_invites, console_sessions to tallyflow_api;
grant select, insert on audit_log to tallyflow_api;
grant usage on sequence audit_log_id_seq to tallyflow_api;
-- The analyst reads everything but the secrets (the hashes and the CSRF token).
grant select on audit_log to tallyflow_analyst;
grant select (school_id, label, created_by, created_at, expires_at, used_at)
  on console_invites to tallyflow_analyst;
grant select (id, school_id, admin_id, label, address, created_at, last_seen_at, expires_at,
  revoked_at) on console_sessions to tallyflow_analyst;
