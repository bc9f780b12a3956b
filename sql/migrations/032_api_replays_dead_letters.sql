-- 032: the ingest API lists and replays the writer's dead letters (the deployment admin's
-- routes, ingest-api/dead-letters/; the same rules as `npm run dlq`, common/dead-letters.ts).
-- It reads every column and sets replayed_at after a replay's ack; it never inserts or
-- deletes one, nor changes what the writer recorded.

grant select on dead_letters to tallyflow_api;
grant update (replayed_at) on dead_letters to tallyflow_api;
