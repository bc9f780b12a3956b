-- The poll and the range of an analyst report (sql/reports/NN_name.sql): checks poll_id,
-- defaults from and to, and reads the poll's time zone.
--
-- Included  by every report with `\ir include/poll.sql`, after include/settings.sql. The
--           report then checks its own variables (part, period, ...) and sets the session
--           time zone itself: `set time zone :'poll_tz';`.
-- Reads     poll_optional  set by the report: off = poll_id is required; on = poll_id may be
--                          left out or empty, meaning every poll (reports 08 and 09)
--           report         set by the report, for the usage line when poll_id is missing:
--                          its file name without .sql (01_totals)
--           usage_args     set by the report, for the same line: its own variables after
--                          from and to, each with a leading space (' [-v part=a|b]'), or ''
--           poll_id, from, to  the report's psql variables (-v) as given
-- Sets      poll_id        '' when poll_optional is on and poll_id is not given
--           from, to       '-infinity' and 'infinity' when not given
--           poll_found     true (the poll exists, or poll_id is '' and optional); \gset
--           poll_tz        the poll's polls.time_zone, 'UTC' without a poll; \gset
--           tallyflow.poll_id  (session setting) only to raise the error below
-- Stops     with psql's exit code 3 (ON_ERROR_STOP) and one ERROR line when poll_id is
--           required but missing (after a usage line on stderr) or names no poll.

\if :poll_optional
  \if :{?poll_id} \else \set poll_id '' \endif
\elif :{?poll_id}
\else
  \warn 'usage: psql -v poll_id=ID [-v from=TIMESTAMP] [-v to=TIMESTAMP]':usage_args' -f sql/reports/':report'.sql'
  do $$ begin raise exception 'psql variable poll_id is required'; end $$;
\endif
\if :{?from} \else \set from '-infinity' \endif
\if :{?to} \else \set to 'infinity' \endif
-- One query checks the poll; plpgsql is only loaded to report one that is wrong.
select ((:'poll_id' = '' and :'poll_optional'::boolean)
        or exists (select 1 from polls where id = :'poll_id')) as poll_found,
       coalesce((select time_zone from polls where id = :'poll_id'), 'UTC') as poll_tz \gset
\if :poll_found
\else
  set tallyflow.poll_id = :'poll_id';
  do $$ begin raise exception 'no poll with id "%"', current_setting('tallyflow.poll_id'); end $$;
\endif
