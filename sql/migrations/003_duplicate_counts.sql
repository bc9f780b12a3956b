-- 003: duplicates the writer dropped, counted per poll, kiosk and UTC day, so analysts can
-- see retries and resends by kiosk (sql/reports: refusals). One row per (poll, kiosk, day)
-- keeps this tiny whatever the traffic; the votes themselves are not kept twice.

create table duplicate_counts (
  poll_id text not null,
  kiosk_id text not null,
  day date not null,
  count bigint not null check (count >= 0),
  primary key (poll_id, kiosk_id, day)
);
