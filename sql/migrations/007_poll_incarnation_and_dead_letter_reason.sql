-- 007: poll incarnations, and why each dead letter is there.
--   polls.incarnation  a number no other poll row ever had, set when the row is created.
--                      The ingest API stamps it on every vote it publishes; the writer
--                      stores a vote only while its poll exists with that incarnation, so
--                      votes still in the stream when a poll is deleted are never counted
--                      in the poll, nor in a new poll created later with the same id.
--                      Existing polls are numbered when this runs.
--   dead_letters.reason
--                      invalid        could not be decoded, or Postgres refused the data
--                                     (SQLSTATE class 22/23); rows before 007 are all this
--                      store_failed   a non-data error (a trigger, a privilege, a missing
--                                     object) kept failing after the writer's bounded retries
--                      max_deliveries JetStream gave up delivering the message

alter table polls add column incarnation bigint generated always as identity;
alter table polls add constraint polls_incarnation_key unique (incarnation);

alter table dead_letters add column reason text not null default 'invalid'
  check (reason in ('invalid', 'store_failed', 'max_deliveries'));
