-- The first and last hour that some items' hour rows or visitor-hours hold.
select min(first_hour), max(last_hour) from (
    select min(period_start) as first_hour, max(period_start) as last_hour from event_analytics
    where period_type = 'hour' and event_id = any(%(items)s::uuid[])
    union all
    select min(hour_start), max(hour_start) from event_analytics_visitor_hours
    where event_id = any(%(items)s::uuid[])
) as spans
