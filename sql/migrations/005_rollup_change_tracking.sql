-- 005: let the publisher read only what changed.
-- Each rollup row and each poll_changes row records the transaction that last wrote it
-- (tx_id). A publisher run remembers the oldest transaction still running when it
-- started (pg_snapshot_xmin); the next run reads only rows with tx_id at or above it:
-- every write committed since is among them, whatever order writers committed in.
-- poll_changes.change_seq becomes a per-poll counter (+1 per batch, serialized by the
-- row lock), so a poll's version only ever moves forward.

alter table vote_rollups add column tx_id xid8 not null default '0';
-- Report-free: only the publisher's delta read (poll_id = $1 and tx_id >= $2) uses it.
create index vote_rollups_poll_tx_idx on vote_rollups (poll_id, tx_id);

alter table poll_changes add column tx_id xid8 not null default '0';
