-- Drift: all-time visitors whose count of hours differs from their visitor-hours (missing or
-- extra visitors included); one row per item with how many visitors disagree.
with counted as (
    select event_id, visitor_key, count(*) as hours_count from event_analytics_visitor_hours
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
    group by 1, 2
), stored as (
    select event_id, visitor_key, hours_count from event_analytics_visitors
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
)
select event_id::text, 'all_time' as period_type, %(all_time_start)s::timestamptz as period_start, count(*) as drifted
from counted c
full join stored s using (event_id, visitor_key)
where c.hours_count is distinct from s.hours_count
group by event_id
