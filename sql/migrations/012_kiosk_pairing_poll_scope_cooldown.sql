-- 012 (owned by the ingest API): kiosk pairing, kiosk poll scopes and the poll's vote cooldown
-- (issue #14). Parameters: none. Output: none.
--
-- polls.vote_cooldown_ms: the pause the kiosk page keeps between two votes (button-mashing);
-- the API only stores and serves it. 0 = none; at most 10 minutes. Existing polls get 2000.
-- kiosks.poll_ids: the polls a kiosk may vote in; null = any poll. An array on the kiosk row
-- (not a join table) so that a change is a kiosk row change: the registry cache's NOTIFY and
-- its kiosk query see it with the token. An id whose poll is later deleted stays listed and
-- matches nothing (a poll created again under that id is allowed again).
-- kiosk_pairing_codes: at most one unused pairing code per kiosk (a new one replaces it),
-- stored as the sha256 of its normalised text only; a row is deleted when the code is used,
-- and expired rows by the next pairing of any kiosk. A revoked or deleted kiosk has none.

alter table polls add column vote_cooldown_ms integer not null default 2000
  check (vote_cooldown_ms between 0 and 600000);

alter table kiosks add column poll_ids text[]
  check (poll_ids is null or cardinality(poll_ids) between 1 and 1000);

create table kiosk_pairing_codes (
  kiosk_id text primary key references kiosks (id) on delete cascade,
  code_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
