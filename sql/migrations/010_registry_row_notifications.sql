-- 010: registry notifications per row, so that the ingest API's cache reloads the one poll
-- or kiosk that changed instead of the whole registry (100 ms at 5,000 polls, per change).
-- Replaces 001's statement-level triggers, whose payload was the table name alone.
-- Payload on channel tallyflow_registry: `polls:<id>`, `poll_options:<poll_id>` or
-- `kiosks:<id>`. Ids are at most 64 characters (checked by the tables), far below
-- NOTIFY's 8000-byte payload limit. A statement touching many rows sends one notification
-- per row (Postgres folds identical payloads of one transaction into one, so a poll's
-- options are one notification); the cache coalesces a burst into one load, or a full
-- reload beyond a threshold. A payload naming only a table (as 001 sent) still means a
-- full reload. Parameters: none. Output: none.

drop trigger polls_changed on polls;
drop trigger poll_options_changed on poll_options;
drop trigger kiosks_changed on kiosks;
drop function notify_registry_change();

create function notify_registry_row() returns trigger language plpgsql as $$
declare
  -- polls and kiosks: their id; poll_options: its poll's id.
  key_column constant text := tg_argv[0];
  old_key text;
  new_key text;
begin
  if tg_op in ('UPDATE', 'DELETE') then
    old_key := to_jsonb(old) ->> key_column;
    perform pg_notify('tallyflow_registry', tg_table_name || ':' || old_key);
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    new_key := to_jsonb(new) ->> key_column;
    -- An UPDATE keeping its key (the usual case) notifies once.
    if old_key is distinct from new_key then
      perform pg_notify('tallyflow_registry', tg_table_name || ':' || new_key);
    end if;
  end if;
  return null;
end $$;

create trigger polls_changed after insert or update or delete on polls
  for each row execute function notify_registry_row('id');
create trigger poll_options_changed after insert or update or delete on poll_options
  for each row execute function notify_registry_row('poll_id');
create trigger kiosks_changed after insert or update or delete on kiosks
  for each row execute function notify_registry_row('id');
