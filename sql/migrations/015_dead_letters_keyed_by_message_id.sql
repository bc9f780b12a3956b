-- 015: a dead letter is keyed by the message it came from, never by its stream sequence.
--   dead_letters.msg_id  the message's Nats-Msg-Id (the ingest API derives it from the
--                        kiosk and its votes; `dlq replay` sets dlq-…), or sha256:<hex> of
--                        its bytes when it has none. With item_index it names one dead
--                        letter for good: a re-created stream starts its sequences at 1
--                        again, so (stream, stream_seq, item_index) named a new message's
--                        dead letter after an old one's, and the upsert kept the old bytes
--                        (and its replayed_at: the new one was never replayed).
--                        stream_seq stays, to find the message while the stream holds it.
--   Rows from before 015 get legacy:<stream>:<stream_seq>, unique as their old key was.

alter table dead_letters add column msg_id text;
update dead_letters set msg_id = format('legacy:%s:%s', stream, stream_seq);
alter table dead_letters alter column msg_id set not null;
alter table dead_letters drop constraint dead_letters_stream_stream_seq_item_index_key;
alter table dead_letters add constraint dead_letters_msg_id_item_index_key
  unique (msg_id, item_index);
