-- 008: votes that reused a stored eventId for another vote (eventId clashes).
-- An eventId is a kiosk's retry key: a retry repeats the kiosk, poll, option and voter.
-- A vote that reaches the writer with an eventId already stored for a different kiosk,
-- poll, option or voter is not a retry, so it is not a duplicate either: it is kept here,
-- never counted in the rollups or in duplicate_counts, and shown per kiosk by report 08
-- (refusals). rejected_votes cannot hold these: its key is the event_id, and every
-- clashing vote shares its event_id with the stored vote (and with any other clash).
-- One row per distinct clashing vote: a redelivery of the same clash adds nothing (the
-- unique key treats a missing voter as equal to a missing voter). Clashes are rare, a
-- kiosk bug or a copied id, so the table stays small and needs no other index.

create table conflicting_votes (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  poll_id text not null,
  option_id text not null,
  kiosk_id text not null,
  voter_id text,
  cast_at timestamptz not null,
  received_at timestamptz not null,
  stream_seq bigint not null,
  recorded_at timestamptz not null default now(),
  unique nulls not distinct (event_id, kiosk_id, poll_id, option_id, voter_id)
);
