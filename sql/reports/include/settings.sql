-- Settings every analyst report runs with (sql/reports/NN_name.sql).
--
-- Included  by every report with `\ir include/settings.sql`, first thing after the report's
--           own `\set ON_ERROR_STOP on` (set in the report itself, so that a missing include
--           stops the run too), before include/poll.sql.
-- Reads     no variables.
-- Sets      psql: QUIET on (no SET/DO command tags, so the output is the one result set),
--           SHOW_CONTEXT never (an error is one `ERROR:` line, without the PL/pgSQL context).
--           Session: jit off.

\set QUIET on
\set SHOW_CONTEXT never
-- JIT compiling these short queries costs more (~50 ms) than running them
set jit = off;
