-- 015: least privilege per service. Four group roles (NOLOGIN) with the grants each
-- service needs in this database; the operator creates login users that are members
-- (docs/operations.md, "Engine users"), and the migration itself runs as the owner.
--
-- Roles are cluster-wide and many databases share a cluster (tests, staging): a role that
-- exists already is kept (another database's migration, or a concurrent one, made it),
-- while the grants below are per database, given again by each database's migration.
do $$
declare
  r text;
begin
  foreach r in array array['tallyflow_api', 'tallyflow_writer', 'tallyflow_publisher', 'tallyflow_analyst'] loop
    begin
      execute format('create role %I nologin', r);
    exception when duplicate_object or unique_violation then
      null;
    end;
  end loop;
end
$$;

grant usage on schema public to tallyflow_api, tallyflow_writer, tallyflow_publisher, tallyflow_analyst;

-- The API owns the registry; it reads voter_ballots to give Redis back its voter claims.
-- It never touches votes: whether a poll has any is asked through poll_has_votes below.
grant select, insert, update, delete on polls, poll_options, kiosks, kiosk_pairing_codes to tallyflow_api;
grant select on voter_ballots to tallyflow_api;

-- The writer stores votes and everything derived from them; it only reads the registry.
grant select on polls, poll_options, kiosks to tallyflow_writer;
grant select, insert, update on votes, vote_rollups, poll_changes, voter_ballots, rejected_votes,
  dead_letters, duplicate_counts, conflicting_votes to tallyflow_writer;
-- A vote whose event id clashes with a stored one gives its voter ballot back.
grant delete on voter_ballots to tallyflow_writer;

-- The publisher reads the registry and the rollups.
grant select on polls, poll_options, poll_changes, vote_rollups to tallyflow_publisher;

-- The analyst (sql/reports, npm run report, npm run reconcile) reads everything.
grant select on all tables in schema public to tallyflow_analyst;

-- Identity columns (polls.incarnation, dead_letters.id, conflicting_votes.id).
grant usage on all sequences in schema public to tallyflow_api, tallyflow_writer;

create function poll_has_votes(p_poll_id text) returns boolean
  language sql stable security definer set search_path = public, pg_temp
  as $$ select exists (select 1 from votes where poll_id = p_poll_id) $$;
revoke execute on function poll_has_votes(text) from public;
grant execute on function poll_has_votes(text) to tallyflow_api;

-- Deleting a poll (the API) clears the writer's tables through this trigger (011): it runs
-- with its owner's rights, so the API needs none on those tables.
alter function delete_poll_writer_rows() security definer set search_path = public, pg_temp;
