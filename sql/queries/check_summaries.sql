-- Drift: summaries whose all-time figures differ from the item's all_time row (or one without the other).
with summaries as (
    select * from event_analytics_summary
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
), all_time as (
    select * from event_analytics
    where period_type = 'all_time' and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
)
select event_id::text, 'summary' as period_type, null::timestamptz as period_start, 1 as drifted
from summaries s
full join all_time a using (event_id)
where (
    s.total_views, s.total_unique_views, s.total_clicks, s.total_shares, s.total_favorites,
    s.total_ticket_clicks, s.total_external_clicks, s.avg_time_on_page_seconds, s.bounce_rate,
    s.first_view_at, s.last_view_at, s.traffic_sources, s.device_types
) is distinct from (
    a.views_count, a.unique_views_count, a.clicks_count, a.shares_count, a.favorites_count,
    a.ticket_clicks, a.external_url_clicks, a.avg_time_on_page_seconds, a.bounce_rate,
    a.first_view_at, a.last_view_at, a.traffic_sources, a.device_types
)
