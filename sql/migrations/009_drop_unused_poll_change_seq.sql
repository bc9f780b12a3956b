-- 009: drops the sequence poll_change_seq (created by 002). No code reads it: the
-- publisher's change marker is poll_changes.change_seq, a counter per poll.
-- Parameters: none. Output: none.

drop sequence if exists poll_change_seq;
