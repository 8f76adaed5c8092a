-- Drift: unique counts that differ from the distinct visitor keys in the visitor state:
-- visitor-hours for hours, days, weeks and months; all-time visitors for all_time rows.
with visitor_days as (
    -- Distinct visitors of each local day first; weeks and months regroup those, not every hour.
    select distinct event_id, date_trunc('day', hour_start at time zone %(tz)s) as local_day, visitor_key
    from event_analytics_visitor_hours
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
), keyed as (
    select event_id, 'day' as period_type, local_day at time zone %(tz)s as period_start, visitor_key from visitor_days
    union
    select event_id, 'week', date_trunc('week', local_day) at time zone %(tz)s, visitor_key from visitor_days
    union
    select event_id, 'month', date_trunc('month', local_day) at time zone %(tz)s, visitor_key from visitor_days
), counted as (
    select event_id, period_type, period_start, count(*) as visitors from keyed group by 1, 2, 3
    union all
    select event_id, 'hour', hour_start, count(*) from event_analytics_visitor_hours
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
    group by 1, 3
    union all
    select event_id, 'all_time', %(all_time_start)s::timestamptz, count(*) from event_analytics_visitors
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
    group by 1
), stored as (
    select event_id, period_type, period_start, unique_views_count from event_analytics
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
)
select event_id::text, period_type, period_start, 1 as drifted
from counted c
full join stored p using (event_id, period_type, period_start)
where coalesce(c.visitors, 0) <> coalesce(p.unique_views_count, 0)
  and not (period_type = 'week' and period_start >= date_trunc('week', %(today)s::timestamp) at time zone %(tz)s)
  and not (period_type = 'month' and period_start >= date_trunc('month', %(today)s::timestamp) at time zone %(tz)s)
