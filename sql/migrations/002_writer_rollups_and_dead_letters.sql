-- 002: what the batch writer maintains besides `votes`.
--   vote_rollups    (poll, option, 10-minute UTC bucket) -> count, updated in the same
--                   transaction as the raw insert, counting only rows actually inserted.
--   poll_changes    one row per poll, bumped by every batch that changed it: the result
--                   publisher compares change_seq with what it last published, so a run
--                   reads one row per poll instead of scanning votes.
--   voter_ballots   one-vote-per-voter, enforced by the database: the primary key is the
--                   unique (poll, voter) constraint; only polls with the rule get rows.
--   rejected_votes  second votes refused by that rule, kept with the reason, not counted.
--   dead_letters    messages (or single votes inside a batch message) that could not be
--                   decoded or stored, with their raw bytes, for `npm run dlq`.

create table vote_rollups (
  poll_id text not null,
  option_id text not null,
  bucket_start timestamptz not null,
  count bigint not null check (count >= 0),
  primary key (poll_id, option_id, bucket_start)
);

create sequence poll_change_seq;

create table poll_changes (
  poll_id text primary key,
  change_seq bigint not null,
  last_stream_seq bigint not null,
  -- When the newest batch that changed this poll was written: the publisher's asOf.
  changed_at timestamptz not null
);

create table voter_ballots (
  poll_id text not null,
  voter_id text not null,
  event_id uuid not null,
  primary key (poll_id, voter_id)
);

create table rejected_votes (
  event_id uuid primary key,
  poll_id text not null,
  option_id text not null,
  kiosk_id text not null,
  voter_id text,
  cast_at timestamptz not null,
  received_at timestamptz not null,
  stream_seq bigint not null,
  reason text not null,
  rejected_at timestamptz not null default now()
);

create table dead_letters (
  id bigint generated always as identity primary key,
  stream text not null,
  stream_seq bigint not null,
  -- -1: the whole message; n >= 0: the n-th vote of a batch message (raw = that vote).
  item_index integer not null default -1,
  subject text not null,
  raw bytea not null,
  error text not null,
  deliveries integer not null,
  first_seen timestamptz not null default now(),
  last_seen timestamptz not null default now(),
  replayed_at timestamptz,
  unique (stream, stream_seq, item_index)
);
