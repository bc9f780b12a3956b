-- Report 07 · late_arrivals: delays from kiosk to server, and votes stored after publication.
--
-- Question   How long did votes take from the kiosk to the server, which kiosks are late,
--            and which votes arrived after their bucket had been published?
--
-- Variables  poll_id           required
--            from, to          optional: votes cast in [from, to) (timestamps; one without
--                              an offset is read in the poll's time zone). Default: all.
--            part              optional: delays (default) | kiosks | after_publish
--            publish_interval  optional, part=after_publish: how often the result publisher
--                              runs, RESULTS_INTERVAL_MS (default '5 seconds')
-- Output     part=delays: delay_class, delay_from, delay_to, votes, share_pct, cumulative_pct
--              The distribution of received_at - cast_at in fixed classes (every class
--              listed, zero-filled). A negative delay means the kiosk's clock runs ahead.
--            part=kiosks: kiosk_id, votes, median_delay, p95_delay, max_delay,
--              delayed_over_1h
--              Per kiosk: percentiles (percentile_disc: delays that actually occurred) of
--              received_at - cast_at, and how many votes took over an hour. Latest first.
--            part=after_publish: event_id, kiosk_id, option_id, cast_at, received_at,
--              stored_at, bucket_start, published_by, late_by
--              Votes that arrived after their bucket had been published. Definition (the
--              publisher logs no publications in Postgres, so it is derived from data that
--              exists): a bucket is published live while it fills, and the publisher runs
--              every publish_interval and shows every bucket up to its asOf, zero-filled. So
--              by published_by = the bucket's end (bucket_start + rollup_bucket_width()) +
--              publish_interval the public had seen the finished bucket without any vote
--              stored later. A vote with stored_at > published_by changed a published
--              bucket; late_by = stored_at - published_by. (Comparing with the bucket's
--              first stored vote instead would flag nearly every on-time vote, since
--              buckets are shown while they fill.)
-- Source     raw votes (the rollups keep no arrival times): an index-only scan of one
--            poll's votes, votes_poll_cast_idx (poll_id, cast_at)
--            include (kiosk_id, option_id, received_at, stored_at) from migration 006; the
--            event ids of the late votes, a probe each.
-- Run        psql -v poll_id=lunch -f sql/reports/07_late_arrivals.sql
--            psql -v poll_id=lunch -v part=after_publish -f sql/reports/07_late_arrivals.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 07_late_arrivals
\set poll_optional off
\set usage_args ' [-v part=delays|kiosks|after_publish] [-v publish_interval=INTERVAL]'
\ir include/settings.sql
-- sorts and hashes over a poll's (or every) vote stay in memory
set work_mem = '64MB';
\ir include/poll.sql
\if :{?part} \else \set part delays \endif
\if :{?publish_interval} \else \set publish_interval '5 seconds' \endif
-- This report's own variables: one query checks them.
select :'part' in ('delays', 'kiosks', 'after_publish') as part_ok,
       :'part' = 'kiosks' as part_kiosks,
       :'part' = 'after_publish' as part_after_publish \gset
\if :part_ok
\else
  set tallyflow.part = :'part';
  do $$ begin raise exception 'part must be delays, kiosks or after_publish, not "%"', current_setting('tallyflow.part'); end $$;
\endif
set time zone :'poll_tz';

\if :part_after_publish
with late as (
  -- from the index alone (no heap visit per vote): the votes stored after publication
  select distinct v.kiosk_id, v.cast_at, v.option_id, v.received_at, v.stored_at
  from votes v
  where v.poll_id = :'poll_id'
    and v.cast_at >= :'from'::timestamptz and v.cast_at < :'to'::timestamptz
    and v.stored_at > rollup_bucket_start(v.cast_at)
                      + rollup_bucket_width() + (:'publish_interval')::interval
)
select v.event_id, v.kiosk_id, v.option_id, v.cast_at, v.received_at, v.stored_at,
       v.bucket_start,
       v.bucket_start + rollup_bucket_width() + (:'publish_interval')::interval as published_by,
       v.stored_at - (v.bucket_start + rollup_bucket_width() + (:'publish_interval')::interval)
         as late_by
from late l
cross join lateral (
  -- then their event ids: the votes with exactly these values (an index probe each)
  select v.*,
         rollup_bucket_start(v.cast_at) as bucket_start
  from votes v
  where v.poll_id = :'poll_id' and v.kiosk_id = l.kiosk_id and v.cast_at = l.cast_at
    and v.option_id = l.option_id and v.received_at = l.received_at
    and v.stored_at = l.stored_at
  offset 0 -- keeps it a probe per late vote, not a join with every vote of the poll
) v
order by v.stored_at, v.event_id;
\elif :part_kiosks
select v.kiosk_id,
       count(*) as votes,
       percentile_disc(0.5) within group (order by v.received_at - v.cast_at) as median_delay,
       percentile_disc(0.95) within group (order by v.received_at - v.cast_at) as p95_delay,
       max(v.received_at - v.cast_at) as max_delay,
       count(*) filter (where v.received_at - v.cast_at > interval '1 hour') as delayed_over_1h
from votes v
where v.poll_id = :'poll_id'
  and v.cast_at >= :'from'::timestamptz and v.cast_at < :'to'::timestamptz
group by v.kiosk_id
order by max_delay desc, v.kiosk_id;
\else
with classes (ord, delay_class, delay_from, delay_to) as (
  values (0, 'negative (kiosk clock ahead)', null::interval, interval '0'),
         (1, 'under 1 s', interval '0', interval '1 second'),
         (2, '1-5 s', interval '1 second', interval '5 seconds'),
         (3, '5-30 s', interval '5 seconds', interval '30 seconds'),
         (4, '30 s-1 min', interval '30 seconds', interval '1 minute'),
         (5, '1-10 min', interval '1 minute', interval '10 minutes'), -- a delay class, not the bucket width
         (6, '10 min-1 h', interval '10 minutes', interval '1 hour'), -- a delay class, not the bucket width
         (7, '1-6 h', interval '1 hour', interval '6 hours'),
         (8, '6-24 h', interval '6 hours', interval '24 hours'),
         (9, '24 h or more', interval '24 hours', null::interval)
), d as (
  select case when delay < interval '0' then 0
              when delay < interval '1 second' then 1
              when delay < interval '5 seconds' then 2
              when delay < interval '30 seconds' then 3
              when delay < interval '1 minute' then 4
              when delay < interval '10 minutes' then 5 -- a delay class, not the bucket width
              when delay < interval '1 hour' then 6
              when delay < interval '6 hours' then 7
              when delay < interval '24 hours' then 8
              else 9 end as ord,
         count(*) as votes
  from (select v.received_at - v.cast_at as delay
        from votes v
        where v.poll_id = :'poll_id'
          and v.cast_at >= :'from'::timestamptz and v.cast_at < :'to'::timestamptz) x
  group by 1
), counted as (
  select c.ord, c.delay_class, c.delay_from, c.delay_to, coalesce(d.votes, 0) as votes
  from classes c left join d using (ord)
)
select delay_class, delay_from, delay_to, votes,
       round(100.0 * votes / nullif(sum(votes) over (), 0), 2) as share_pct,
       round(100.0 * sum(votes) over (order by ord) / nullif(sum(votes) over (), 0), 2)
         as cumulative_pct
from counted
order by ord;
\endif
