-- 001: the registry (polls, options, kiosks) and the raw votes table.
-- Decisions: timestamptz everywhere; text ids chosen by the admin (safe in NATS subjects);
-- votes carry no foreign keys, because the ingest API validated them against the registry
-- and FK checks would slow the writer's bulk insert.

create table polls (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  title text not null check (length(title) between 1 and 200),
  time_zone text not null default 'UTC',
  opens_at timestamptz,
  closes_at timestamptz,
  results_visibility text not null default 'live'
    check (results_visibility in ('live', 'after_close')),
  one_vote_per_voter boolean not null default false,
  archived_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (closes_at is null or opens_at is null or closes_at > opens_at)
);

create table poll_options (
  poll_id text not null references polls (id) on delete cascade,
  id text not null check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  label text not null check (length(label) between 1 and 200),
  position integer not null,
  primary key (poll_id, id)
);

create table kiosks (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  name text not null check (length(name) between 1 and 200),
  -- sha256 of a 256-bit random token: the token has full entropy, so a slow hash adds nothing.
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

create table votes (
  -- UUIDv7 (time-ordered) keeps this unique index append-mostly, unlike random v4 ids.
  event_id uuid primary key,
  poll_id text not null,
  option_id text not null,
  kiosk_id text not null,
  voter_id text,
  cast_at timestamptz not null,
  received_at timestamptz not null,
  stream_seq bigint not null,
  stored_at timestamptz not null default now()
);

-- The design's composite key: per-poll, per-option time ranges (results and reports).
create index votes_poll_option_cast_idx on votes (poll_id, option_id, cast_at);

-- Every registry change notifies the ingest API's caches (payload: what changed).
create function notify_registry_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('tallyflow_registry', tg_table_name);
  return null;
end $$;

create trigger polls_changed after insert or update or delete on polls
  for each statement execute function notify_registry_change();
create trigger poll_options_changed after insert or update or delete on poll_options
  for each statement execute function notify_registry_change();
create trigger kiosks_changed after insert or update or delete on kiosks
  for each statement execute function notify_registry_change();
