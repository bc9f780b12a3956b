-- 034 (owned by the ingest API's exports, ingest-api/exports/): a poll's results and raw
-- votes for its CSV exports, read through two functions with their owner's rights, as
-- poll_has_votes (016) is: the API's role still never reads `votes` or `vote_rollups`
-- itself, only these two answers about one poll.
--
-- export_poll_results(poll_id, by_bucket)
--   by_bucket false: one row per option of the poll in its order, with its total (0 for an
--   option without votes; bucket_start null). by_bucket true: one row per option and
--   10-minute bucket that has votes (rollup_bucket_width, 014), in bucket then option order.
--   Columns: option_id, option_label, position, bucket_start, votes.
-- export_poll_votes(poll_id)
--   every stored vote of the poll (its current incarnation: a deleted poll's votes went with
--   it, 011), in cast order. Columns: event_id, option_id, cast_at, received_at, kiosk_id,
--   voter_id, temperature_c.
--
-- Both are STABLE and take one poll id; who may call them for which poll is the API's
-- (ingest-api/exports/export-routes.ts: the poll's school admin or the deployment admin).

create function export_poll_results(p_poll_id text, p_by_bucket boolean)
  returns table (option_id text, option_label text, "position" integer,
                 bucket_start timestamptz, votes bigint)
  language sql stable security definer set search_path = public, pg_temp
  as $$
    select o.id, o.label, o.position, null::timestamptz, coalesce(sum(r.count), 0)::bigint
    from poll_options o
    left join vote_rollups r on r.poll_id = o.poll_id and r.option_id = o.id
    where o.poll_id = p_poll_id and not p_by_bucket
    group by o.id, o.label, o.position
    union all
    select o.id, o.label, o.position, r.bucket_start, r.count
    from vote_rollups r
    join poll_options o on o.poll_id = r.poll_id and o.id = r.option_id
    where r.poll_id = p_poll_id and p_by_bucket
    order by 4 nulls first, 3, 1
  $$;

create function export_poll_votes(p_poll_id text)
  returns table (event_id uuid, option_id text, cast_at timestamptz, received_at timestamptz,
                 kiosk_id text, voter_id text, temperature_c numeric)
  language sql stable security definer set search_path = public, pg_temp
  as $$
    select v.event_id, v.option_id, v.cast_at, v.received_at, v.kiosk_id, v.voter_id,
           v.temperature_c
    from votes v
    where v.poll_id = p_poll_id
    order by v.cast_at, v.event_id
  $$;

revoke execute on function export_poll_results(text, boolean) from public;
revoke execute on function export_poll_votes(text) from public;
grant execute on function export_poll_results(text, boolean) to tallyflow_api, tallyflow_analyst;
grant execute on function export_poll_votes(text) to tallyflow_api, tallyflow_analyst;
