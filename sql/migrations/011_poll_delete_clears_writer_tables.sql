-- 011 (owned by the batch writer): deleting a poll deletes what the writer stored for it.
-- The writer's tables (002, 003, 008) hold a poll's votes and what is derived from them:
-- votes, vote_rollups, poll_changes, voter_ballots, rejected_votes, duplicate_counts and
-- conflicting_votes. Until now the ingest API deleted them itself before deleting the poll
-- row, so the registry had to know every table the writer adds. This trigger keeps that
-- list here, beside the writer's schema, and the API deletes only the poll row.
-- It runs inside the deleting transaction (AFTER DELETE, per row), so the delete stays
-- atomic: a poll created again under the same id never sees the old rows, and a failure
-- here rolls the poll's delete back with it. The API still refuses to delete a poll that
-- has votes unless it was archived first (409 poll_has_votes): that rule is the registry's.
-- Dead letters are kept: they are evidence, and their raw payload has no poll_id column.
-- The same deletes the API ran before, in the same transaction: votes, vote_rollups,
-- poll_changes, voter_ballots and duplicate_counts by their (poll_id, …) keys; rejected_votes
-- and conflicting_votes by a scan (both small: refusals, not votes).
-- Parameters: none. Output: none.

create function delete_poll_writer_rows() returns trigger language plpgsql as $$
begin
  delete from votes where poll_id = old.id;
  delete from vote_rollups where poll_id = old.id;
  delete from poll_changes where poll_id = old.id;
  delete from voter_ballots where poll_id = old.id;
  delete from rejected_votes where poll_id = old.id;
  delete from duplicate_counts where poll_id = old.id;
  delete from conflicting_votes where poll_id = old.id;
  return null;
end;
$$;

create trigger polls_deleted_clear_writer_rows after delete on polls
  for each row execute function delete_poll_writer_rows();
