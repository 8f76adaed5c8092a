-- Exact unique visitors of each item in the rolling windows ending at %(end)s (24 hours, 7 and 30
-- days), counted where the visitor-hours are stored: one row per item crosses the wire.
select v.event_id::text as event_id,
       count(distinct v.visitor_key) filter (where v.hour_start >= %(start_24h)s) as unique_views_24h,
       count(distinct v.visitor_key) filter (where v.hour_start >= %(start_7d)s) as unique_views_7d,
       count(distinct v.visitor_key) as unique_views_30d
from event_analytics_visitor_hours v
where v.hour_start >= %(start_30d)s
  and v.hour_start < %(end)s
  and v.event_id = any(%(items)s::uuid[])
group by v.event_id
