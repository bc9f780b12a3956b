-- 037 (owned by the batch writer): a completed register stores only what its completion
-- does not imply (issue #26, "saves ~80 % of the writes"). Until now register_people held a
-- row for every pupil of a completed lesson (the roster made present): at a national
-- morning more than four fifths of the rows written, for what the completion's roster
-- (register_states.roster, one text[] a lesson, written once: an id and ~4 bytes a person
-- inside the row) already says.
--
-- From now on register_people holds a row only for a person with an event in the register
-- (their latest: absent, or present taking an absence back, before or after the
-- completion, `after_completion` when cast after it). Everyone else in the completion's
-- roster is present: "everyone in the group at that time who was not reported absent",
-- whatever the group becomes later (the roster is the group when the writer stored the
-- completion, not the group now). The counts of register_states are unchanged.
--
-- register_statuses gives each register's people by status as register_people used to
-- (the event rows, and the roster's other members as present), for analysts and tests, one
-- register at a time (`where poll_id = …` reaches both keys). The API's statistics and the
-- publisher read the roster and the rows themselves: joined to a range of registers, the
-- view is planned as an anti-join of every register's roster.
--
-- Erasure (029) already renames a person in register_people and inside every roster, so the
-- view shows the pseudonym wherever the id was.
-- Parameters: none. Output: none.

-- The rows the completion implied: no event (the writer wrote last_event_at from the
-- person's latest event; only the roster's members without one had none).
delete from register_people rp
  using register_states s
  where s.poll_id = rp.poll_id and s.completed_at is not null and rp.last_event_at is null;

create view register_statuses as
  select rp.poll_id, rp.person_id, rp.status, rp.last_event_at, rp.after_completion,
         true as has_event
  from register_people rp
  union all
  select s.poll_id, r.person_id, 'present', null::timestamptz, false, false
  from register_states s cross join lateral unnest(s.roster) as r(person_id)
  where s.completed_at is not null
    and not exists (select 1 from register_people rp
                    where rp.poll_id = s.poll_id and rp.person_id = r.person_id);

comment on view register_statuses is
  'Each register''s people by status (migration 037): register_people''s event rows, and the completion''s roster''s other members as present.';

grant select on register_statuses to tallyflow_writer, tallyflow_api, tallyflow_publisher, tallyflow_analyst;
