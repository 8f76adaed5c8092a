-- Exact unique visitors of each (item, period) from visitor-hours, counted where they are stored:
-- one row per (item, period) crosses the wire, not one per visitor-hour.
select v.event_id::text as event_id, p.period_start, count(distinct v.visitor_key) as unique_views_count
from unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) as p (period_start, period_end)
join event_analytics_visitor_hours v
  on v.hour_start >= p.period_start and v.hour_start < p.period_end
where v.event_id = any(%(items)s::uuid[])
group by v.event_id, p.period_start
