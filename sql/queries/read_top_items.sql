-- The items a run touched with the most views over all time, for the run's table artifact.
select
    coalesce(e.title, s.event_id::text) as item,
    s.event_id::text as event_id,
    s.total_views,
    s.total_unique_views,
    s.total_clicks,
    s.total_ticket_clicks,
    s.views_24h,
    s.views_7d,
    s.bounce_rate::float8 as bounce_rate,
    s.avg_time_on_page_seconds::float8 as avg_time_on_page_seconds
from event_analytics_summary s
left join events e on e.id = s.event_id
where s.event_id = any(%(items)s::uuid[])
order by s.total_views desc, s.event_id
limit %(limit)s
