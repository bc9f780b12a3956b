-- 018 (owned by the ingest API): the roster's searches by name and by group use an index.
-- Parameters: none. Output: none.
--
-- GET /v1/schools/:id/people?q= matches an id prefix (a range of the primary key) or, for
-- the school's own admin, any part of a name (ILIKE '%…%'); ?group= the people of a group.
-- Without an index a search that matches few people reads the whole school's roster (~5 ms
-- at 10,000 people, more under load); with this one it reads the matches. One GIN index
-- holds the three keys: the school (btree_gin, so that a search never reads other
-- schools' entries), the name's trigrams (pg_trgm) and the groups. Both extensions are
-- trusted (PostgreSQL 13+): the schema's owner, who runs the migrations, may create them.

create extension if not exists pg_trgm;
create extension if not exists btree_gin;

create index people_search_idx on people using gin (school_id, name gin_trgm_ops, groups)
  with (gin_pending_list_limit = 256);
