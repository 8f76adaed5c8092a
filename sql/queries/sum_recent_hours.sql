-- Views and clicks of each item in the rolling windows ending at %(end)s (24 hours, 7 and 30 days),
-- summed from its hour rows where they are stored: one row per item crosses the wire.
select a.event_id::text as event_id,
       sum(a.views_count) filter (where a.period_start >= %(start_24h)s) as views_24h,
       sum(a.clicks_count) filter (where a.period_start >= %(start_24h)s) as clicks_24h,
       sum(a.views_count) filter (where a.period_start >= %(start_7d)s) as views_7d,
       sum(a.clicks_count) filter (where a.period_start >= %(start_7d)s) as clicks_7d,
       sum(a.views_count) as views_30d,
       sum(a.clicks_count) as clicks_30d
from event_analytics a
where a.period_type = 'hour'
  and a.period_start >= %(start_30d)s
  and a.period_start < %(end)s
  and a.event_id = any(%(items)s::uuid[])
group by a.event_id
