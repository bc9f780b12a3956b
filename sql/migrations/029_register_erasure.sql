-- 029: erasure reaches the lesson registers (026). A person's id stays nowhere once erased:
-- erase_person_events (017, 025) also renames them to the pseudonym in register_people and
-- in each recorded completion's roster (register_states.roster, kept in id order), and moves
-- those registers' tx_id so that the publisher rewrites their documents (which list ids).
-- Parameters: none. Output: none.
--
-- Lock order: register_states rows first (in poll order), then register_people, as the
-- writer's register upkeep takes them (batch-writer/register-upkeep.ts): an erasure and a
-- batch on the same register wait for each other instead of deadlocking.

create or replace function erase_person_events(p_school_id text, p_person_id text, p_pseudonym text)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n bigint;
begin
  perform 1 from register_states s
    where s.school_id = p_school_id
      and (p_person_id = any(s.roster)
           or exists (select 1 from register_people rp
                      where rp.poll_id = s.poll_id and rp.person_id = p_person_id))
    order by s.poll_id for update;
  update register_states s set
    roster = (select array_agg(r order by r collate "C")
              from unnest(array_replace(s.roster, p_person_id, p_pseudonym)) as u(r)),
    tx_id = pg_current_xact_id(), updated_at = now()
    where s.school_id = p_school_id and p_person_id = any(s.roster);
  with renamed as (
    update register_people rp set person_id = p_pseudonym
      from register_states s
      where s.poll_id = rp.poll_id and s.school_id = p_school_id and rp.person_id = p_person_id
      returning rp.poll_id
  )
  update register_states s set tx_id = pg_current_xact_id(), updated_at = now()
    where s.poll_id in (select poll_id from renamed);
  update votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  get diagnostics n = row_count;
  update voter_ballots set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update rejected_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update conflicting_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  with renamed as (
    update attendance_days set person_id = p_pseudonym, tx_id = pg_current_xact_id(), updated_at = now()
      where school_id = p_school_id and person_id = p_person_id
      returning day
  )
  insert into attendance_day_changes (school_id, day) select distinct p_school_id, day from renamed;
  delete from attendance_dirty where school_id = p_school_id and person_id = p_person_id;
  return n;
end $$;
