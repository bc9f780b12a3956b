-- 017 (owned by the ingest API): schools, their admins, and people (the roster).
-- Parameters: none. Output: none.
--
-- schools: the unit of the deployment. Every poll and kiosk belongs to exactly one; what
-- existed before this migration moves into the school `default`, so an upgrade loses nothing
-- and every URL, NATS subject and Redis key stays the same.
--
-- polls.slug, kiosks.slug: the name a school gave a poll or kiosk, unique within the school.
-- `id` stays globally unique and is what every URL, subject and key takes. In the `default`
-- school id = slug (as before); another school's ids are the slug plus a random suffix the
-- API draws (ingest-api/schools/scoped-id.ts), so two schools may both call a poll `lunch`.
-- A row inserted without a slug (scripts and tests that predate this) takes its id.
--
-- school_admins: credentials the deployment admin issues, one school each. Only the sha256
-- of the token is stored (256 random bits: a slow hash adds nothing). Revoking deletes the
-- row; the registry cache hears it (migration 010's notification) and refuses the token.
--
-- people: a school's roster. `id` is the badge or student number a kiosk sends as voterId,
-- in the API's normal form (common/vote.ts), ordered bytewise (collate "C") so that keyset
-- pages and id-prefix searches use the primary key. `lookup_key` is the first 64 bits of
-- md5(id): the API's known-people set holds only these (8 bytes a person), and computes the
-- same key for a vote's voterId. `name` is personal data: null once erased, never granted
-- to the analyst role. A statement changing people notifies `tallyflow_people` once per
-- school it touched (payload: the school id), so an import of 10,000 rows is one reload.

create table schools (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  name text not null check (length(name) between 1 and 200),
  time_zone text not null default 'UTC',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

insert into schools (id, name) values ('default', 'Default school');

create table school_admins (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  school_id text not null references schools (id) on delete cascade,
  label text not null check (length(label) between 1 and 200),
  token_hash bytea not null unique,
  created_at timestamptz not null default now()
);
create index school_admins_school_idx on school_admins (school_id, created_at);

-- Polls are deleted by the API one by one (each delete runs the writer's trigger, 011) before
-- their school: no cascade here, so a school with polls left cannot vanish by accident.
alter table polls add column school_id text not null default 'default' references schools (id);
alter table polls add column slug text check (slug ~ '^[A-Za-z0-9_-]{1,64}$');
update polls set slug = id;
alter table polls alter column slug set not null;
alter table polls add constraint polls_school_slug_key unique (school_id, slug);

alter table kiosks add column school_id text not null default 'default'
  references schools (id) on delete cascade;
alter table kiosks add column slug text check (slug ~ '^[A-Za-z0-9_-]{1,64}$');
update kiosks set slug = id;
alter table kiosks alter column slug set not null;
alter table kiosks add constraint kiosks_school_slug_key unique (school_id, slug);

-- A poll may require that a vote's voterId is an active person of its school's roster.
alter table polls add column voters text not null default 'any' check (voters in ('any', 'roster'));

create function default_slug_to_id() returns trigger language plpgsql as $$
begin
  new.slug := coalesce(new.slug, new.id);
  return new;
end $$;
create trigger polls_default_slug before insert on polls
  for each row execute function default_slug_to_id();
create trigger kiosks_default_slug before insert on kiosks
  for each row execute function default_slug_to_id();

create table people (
  school_id text not null references schools (id) on delete cascade,
  id text collate "C" not null check (length(id) between 1 and 128),
  name text check (length(name) between 1 and 200),
  groups text[] not null default '{}' check (cardinality(groups) <= 50),
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  lookup_key bigint not null
    generated always as (('x' || left(md5(id), 16))::bit(64)::bigint) stored,
  primary key (school_id, id)
);

-- One notification per school a statement touched (not per row): the API reloads that
-- school's keys once, whether one person changed or an import of 10,000.
create function notify_people_change() returns trigger language plpgsql as $$
begin
  if tg_op in ('INSERT', 'UPDATE') then
    perform pg_notify('tallyflow_people', s.school_id) from (select distinct school_id from new_rows) s;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    perform pg_notify('tallyflow_people', s.school_id) from (select distinct school_id from old_rows) s;
  end if;
  return null;
end $$;
create trigger people_inserted after insert on people
  referencing new table as new_rows for each statement execute function notify_people_change();
create trigger people_updated after update on people
  referencing old table as old_rows new table as new_rows
  for each statement execute function notify_people_change();
create trigger people_deleted after delete on people
  referencing old table as old_rows for each statement execute function notify_people_change();

-- Schools and admins reach the registry cache like polls and kiosks (migration 010).
create trigger schools_changed after insert or update or delete on schools
  for each row execute function notify_registry_row('id');
create trigger school_admins_changed after insert or update or delete on school_admins
  for each row execute function notify_registry_row('id');

-- Erasing a person: their stored events stay counted, under a pseudonym, in every table the
-- writer keeps a voter id in. Runs as its owner: the API has no rights on the writer's tables.
-- Uses votes_poll_voter_cast_idx (006) per poll of the school. Returns the votes rewritten.
create function erase_person_events(p_school_id text, p_person_id text, p_pseudonym text)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n bigint;
begin
  update votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  get diagnostics n = row_count;
  update voter_ballots set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update rejected_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update conflicting_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  return n;
end $$;
revoke execute on function erase_person_events(text, text, text) from public;
grant execute on function erase_person_events(text, text, text) to tallyflow_api;

grant select, insert, update, delete on schools, school_admins, people to tallyflow_api;
grant select on schools to tallyflow_writer, tallyflow_publisher;
-- The analyst reads everything but tokens and names (personal data: the school's own admin
-- exports them).
grant select on schools to tallyflow_analyst;
grant select (id, school_id, label, created_at) on school_admins to tallyflow_analyst;
grant select (school_id, id, groups, active, created_at, updated_at, lookup_key) on people
  to tallyflow_analyst;
