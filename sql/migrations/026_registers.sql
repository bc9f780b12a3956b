-- 026: lesson registers. A register is a poll of kind `register`: one lesson of one group
-- (`group_ids` holds exactly that group) from `starts_at` to `ends_at`, in a school. Its
-- options are `absent` and `present` (present takes an absence back), its voters the
-- school's roster. Teachers (school_teachers, owned by the ingest API) report the absent,
-- then complete the register; the batch writer keeps each register's state in the batch's
-- transaction (register_states, register_people, owned by the writer).
-- Parameters: none. Output: none.
--
-- school_teachers: credentials a school's admin issues (`tft_…`), only their sha256 stored,
-- revoked by deleting the row; the registry cache hears it (migration 010's notification).
--
-- register_states: one row per register with an event or a completion. The completion
-- (its id, its time, the roster of the group when the writer stored it) is recorded once:
-- the first stored wins. `tx_id` lets the publisher read only the registers changed since
-- its last run, as attendance_days does (019).
--
-- register_people: each register's people by status: `absent` (their latest event is an
-- absence), `present` (completed, in the completion's roster or their latest event is
-- `present`, not absent), `pending` (not completed, nothing said but a taken-back
-- absence). `after_completion`: the person's latest event was cast after the completion.
-- What the group and school statistics (lessons held, person-lessons) are read from.

alter table polls drop constraint polls_kind_check;
alter table polls add constraint polls_kind_check check (kind in ('vote', 'attendance', 'register'));
alter table polls add column starts_at timestamptz, add column ends_at timestamptz;
alter table polls add constraint polls_register_shape check (
  kind <> 'register' or (voters = 'roster' and cardinality(group_ids) = 1
                         and starts_at is not null and ends_at > starts_at));
-- The overdue list: a school's registers by their end.
create index polls_register_ends_idx on polls (school_id, ends_at) where kind = 'register';
-- The publisher's kept window and the statistics' ranges: registers by their start.
create index polls_register_starts_idx on polls (starts_at) where kind = 'register';

-- The API's known people hold each group's members only for schools with a register (their
-- memory doubles otherwise): a school's first register makes every API process read that
-- school's keys again, its groups' with them (ingest-api/people/known-people.ts).
create function notify_first_register() returns trigger language plpgsql as $$
begin
  if new.kind = 'register' and not exists (
    select 1 from polls where school_id = new.school_id and kind = 'register' and id <> new.id
  ) then
    perform pg_notify('tallyflow_people', new.school_id);
  end if;
  return null;
end $$;
create trigger polls_first_register after insert on polls
  for each row execute function notify_first_register();

create table school_teachers (
  id text primary key check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  school_id text not null references schools (id) on delete cascade,
  label text not null check (length(label) between 1 and 200),
  token_hash bytea not null unique,
  created_at timestamptz not null default now()
);
create index school_teachers_school_idx on school_teachers (school_id, created_at);
create trigger school_teachers_changed after insert or update or delete on school_teachers
  for each row execute function notify_registry_row('id');

create table register_states (
  poll_id text primary key references polls (id) on delete cascade,
  school_id text not null,
  group_id text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  completion_id uuid,
  completed_at timestamptz,
  completion_stored_at timestamptz,
  completed_by text,
  roster text[] collate "C",
  present integer not null default 0,
  absent integer not null default 0,
  pending integer not null default 0,
  changed_after_completion boolean not null default false,
  events integer not null default 0,
  tx_id xid8 not null default pg_current_xact_id(),
  updated_at timestamptz not null default now()
);
create index register_states_tx_idx on register_states (tx_id);
create index register_states_group_idx on register_states (school_id, group_id, starts_at);
create index register_states_school_idx on register_states (school_id, starts_at);

create table register_people (
  poll_id text not null references register_states (poll_id) on delete cascade,
  person_id text collate "C" not null,
  status text not null check (status in ('present', 'absent', 'pending')),
  last_event_at timestamptz,
  after_completion boolean not null default false,
  primary key (poll_id, person_id)
);

grant select, insert, delete on school_teachers to tallyflow_api;
-- Never the token hash: who holds a credential, not what it is.
grant select (id, school_id, label, created_at) on school_teachers to tallyflow_analyst;
grant select, insert, update, delete on register_states, register_people to tallyflow_writer;
grant select (school_id, id, groups, active) on people to tallyflow_writer;
grant select on register_states, register_people to tallyflow_api, tallyflow_publisher, tallyflow_analyst;
