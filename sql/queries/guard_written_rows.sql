-- Invariants of the rows a transaction wrote, checked before it commits: only the written items and
-- period spans are read (index range scans), so the cost follows the write, not the history.
-- One row per violation: item, period type, period start, invariant.
with spans as (
    select * from unnest(%(types)s::text[], %(starts)s::timestamptz[], %(ends)s::timestamptz[]) as s (period_type, span_start, span_end)
), written as materialized (
    -- The spans of one type never overlap (flows/guards.py merges them), so no row is read twice.
    -- One index range scan per span (offset 0 keeps the planner from turning it into a hash join
    -- over the whole table, whose cost would grow with history).
    -- Only the columns the invariants read: the other breakdowns and the bookkeeping columns would
    -- be copied into the materialised rows for nothing.
    select a.*
    from spans s
    cross join lateral (
        select
            a.event_id, a.period_type, a.period_start, a.period_end, a.views_count, a.unique_views_count,
            a.clicks_count, a.shares_count, a.favorites_count, a.ticket_clicks, a.external_url_clicks,
            a.visits_count, a.bounced_visits_count, a.time_on_page_total_ms, a.time_on_page_views,
            a.bounce_rate, a.traffic_sources, a.device_types
        from event_analytics a
        where a.period_type = s.period_type and a.period_start >= s.span_start and a.period_start < s.span_end
          and a.event_id = any(%(items)s::uuid[])
        offset 0
    ) as a
), hour_visitors as (
    -- Visitor-hours counted per hour in one grouped scan, not one lookup per hour row.
    select v.event_id, v.hour_start, count(*) as visitors
    from spans s
    join event_analytics_visitor_hours v
      on s.period_type = 'hour' and v.hour_start >= s.span_start and v.hour_start < s.span_end
    where v.event_id = any(%(items)s::uuid[])
    group by v.event_id, v.hour_start
)
select * from (

select event_id::text, period_type, period_start, 'unique views at most views, bounce rate in [0, 1], no negative count' as invariant
from written
where unique_views_count > views_count
   or bounce_rate not between 0 and 1
   or least(views_count, unique_views_count, clicks_count, shares_count, favorites_count, ticket_clicks,
            external_url_clicks, visits_count, bounced_visits_count, time_on_page_total_ms, time_on_page_views) < 0
union all
select event_id::text, period_type, period_start, 'traffic sources and device types add up to views'
from written w
-- Summed once per distinct (traffic sources, device types, views): most hours share all three with
-- many others, and jsonb hashing and equality cost less than a path query. Equal jsonb objects hold
-- the same keys with equal values of the same types, so they have equal sums; a row breaks the
-- invariant exactly when its triple does, and the rows are looked up again only when one does.
-- The triples hold no NULL, so that the lookup's equality finds every row: a NULL breakdown fails
-- the check as any non-object does (as jsonb 'null'), and NULL views pass or fail it as 0 does.
-- The lookup is a hashed subplan over the failing triples (as the operand of coalesce it is not made
-- a join), so that with none, as a clean write has, the written rows are not hashed for it.
where coalesce((coalesce(w.traffic_sources, 'null'), coalesce(w.device_types, 'null'), coalesce(w.views_count, 0)) in (
    select d.traffic_sources, d.device_types, d.views_count
    from (
        select distinct coalesce(traffic_sources, 'null') as traffic_sources, coalesce(device_types, 'null') as device_types,
               coalesce(views_count, 0) as views_count
        from written
    ) as d
    -- The numbers among each object's values, by a path query (one jsonb value per call; jsonb_each
    -- builds a two-column row per value and cost a quarter more here); a value that is not an object
    -- counts as the impossible sum -1, so that it breaks the invariant whatever the views.
    where case when jsonb_typeof(d.traffic_sources) = 'object'
               then (select sum(v::numeric) from jsonb_path_query(d.traffic_sources, '$.* ? (@.type() == "number")') as v) else -1 end
          is distinct from nullif(d.views_count, 0)
       or case when jsonb_typeof(d.device_types) = 'object'
               then (select sum(v::numeric) from jsonb_path_query(d.device_types, '$.* ? (@.type() == "number")') as v) else -1 end
          is distinct from nullif(d.views_count, 0)
), false)
union all
select w.event_id::text, w.period_type, w.period_start, 'hour unique views equal its visitor-hours'
from written w
left join hour_visitors c on c.event_id = w.event_id and c.hour_start = w.period_start
where w.period_type = 'hour'
  and w.unique_views_count <> coalesce(c.visitors, 0)
union all
select w.event_id::text, w.period_type, w.period_start, 'counts equal the sums of the period''s hours'
from written w
cross join lateral (
    select
        coalesce(sum(h.views_count), 0) as views_count, coalesce(sum(h.clicks_count), 0) as clicks_count,
        coalesce(sum(h.shares_count), 0) as shares_count, coalesce(sum(h.favorites_count), 0) as favorites_count,
        coalesce(sum(h.ticket_clicks), 0) as ticket_clicks, coalesce(sum(h.external_url_clicks), 0) as external_url_clicks,
        coalesce(sum(h.visits_count), 0) as visits_count, coalesce(sum(h.bounced_visits_count), 0) as bounced_visits_count,
        coalesce(sum(h.time_on_page_total_ms), 0) as time_on_page_total_ms, coalesce(sum(h.time_on_page_views), 0) as time_on_page_views
    from event_analytics h
    where h.event_id = w.event_id and h.period_type = 'hour' and h.period_start >= w.period_start and h.period_start < w.period_end
) as h
where w.period_type in ('day', 'week', 'month')
  and (w.views_count, w.clicks_count, w.shares_count, w.favorites_count, w.ticket_clicks, w.external_url_clicks,
       w.visits_count, w.bounced_visits_count, w.time_on_page_total_ms, w.time_on_page_views)
      is distinct from
      (h.views_count, h.clicks_count, h.shares_count, h.favorites_count, h.ticket_clicks, h.external_url_clicks,
       h.visits_count, h.bounced_visits_count, h.time_on_page_total_ms, h.time_on_page_views)
union all
select w.event_id::text, w.period_type, w.period_start, 'unique views equal the distinct visitors of the period''s visitor-hours'
from written w
left join unnest(%(pu_types)s::text[], %(pu_items)s::uuid[], %(pu_starts)s::timestamptz[], %(pu_uniques)s::bigint[])
    as n (period_type, event_id, period_start, visitors)
  on n.period_type = w.period_type and n.event_id = w.event_id and n.period_start = w.period_start
where w.period_type in ('day', 'week', 'month')
  -- Rows rolled up from stored visitor-hours are held to the count the database made for them in
  -- this transaction (recounting would repeat that statement); rows counted in memory, by Polars,
  -- are recounted here.
  and w.unique_views_count <> coalesce(n.visitors, (
      select count(distinct v.visitor_key) from event_analytics_visitor_hours v
      where v.event_id = w.event_id and v.hour_start >= w.period_start and v.hour_start < w.period_end
  ))
union all
select w.event_id::text, w.period_type, w.period_start, 'all-time unique views equal the all-time visitors'
from written w
left join unnest(%(at_items)s::uuid[], %(at_uniques)s::bigint[]) as e (event_id, visitors) on e.event_id = w.event_id
where w.period_type = 'all_time'
  -- The visitors the transaction's own changes imply (old count, plus added, minus departed) where
  -- known, so that the cost follows the write; else a recount (coalesce never evaluates it then).
  and w.unique_views_count <> coalesce(e.visitors, (select count(*) from event_analytics_visitors v where v.event_id = w.event_id))
union all
select s.event_id::text, 'summary', null, 'summary totals equal the all_time row'
from event_analytics_summary s
left join event_analytics a on a.event_id = s.event_id and a.period_type = 'all_time'
where s.event_id = any(%(summary_items)s::uuid[])
  and (s.total_views, s.total_unique_views, s.total_clicks, s.total_shares, s.total_favorites, s.total_ticket_clicks, s.total_external_clicks)
      is distinct from
      (a.views_count, a.unique_views_count, a.clicks_count, a.shares_count, a.favorites_count, a.ticket_clicks, a.external_url_clicks)
) as violations (event_id, period_type, period_start, invariant)
-- The finest period first: a broken hour breaks the day summed from it, and the hour is the cause.
order by array_position(array['hour', 'day', 'week', 'month', 'all_time', 'summary'], period_type), period_start, event_id
limit 20
