insert into event_analytics_summary as s (
    event_id, total_views, total_unique_views, total_clicks, total_shares, total_favorites,
    total_ticket_clicks, total_external_clicks, avg_time_on_page_seconds, bounce_rate,
    peak_hour, peak_day, views_24h, unique_views_24h, clicks_24h, views_7d, unique_views_7d,
    views_30d, unique_views_30d, first_view_at, last_view_at, as_of, traffic_sources, device_types,
    definitions_version
)
select
    event_id, total_views, total_unique_views, total_clicks, total_shares, total_favorites,
    total_ticket_clicks, total_external_clicks, avg_time_on_page_seconds, bounce_rate,
    peak_hour, peak_day, views_24h, unique_views_24h, clicks_24h, views_7d, unique_views_7d,
    views_30d, unique_views_30d, first_view_at, last_view_at, as_of, traffic_sources, device_types,
    current_setting('analytics.definitions_version', true)
from stage_summary
on conflict (event_id) do update set
    total_views = excluded.total_views,
    total_unique_views = excluded.total_unique_views,
    total_clicks = excluded.total_clicks,
    total_shares = excluded.total_shares,
    total_favorites = excluded.total_favorites,
    total_ticket_clicks = excluded.total_ticket_clicks,
    total_external_clicks = excluded.total_external_clicks,
    avg_time_on_page_seconds = excluded.avg_time_on_page_seconds,
    bounce_rate = excluded.bounce_rate,
    peak_hour = excluded.peak_hour,
    peak_day = excluded.peak_day,
    views_24h = excluded.views_24h,
    unique_views_24h = excluded.unique_views_24h,
    clicks_24h = excluded.clicks_24h,
    views_7d = excluded.views_7d,
    unique_views_7d = excluded.unique_views_7d,
    views_30d = excluded.views_30d,
    unique_views_30d = excluded.unique_views_30d,
    first_view_at = excluded.first_view_at,
    last_view_at = excluded.last_view_at,
    as_of = excluded.as_of,
    traffic_sources = excluded.traffic_sources,
    device_types = excluded.device_types,
    definitions_version = excluded.definitions_version,
    updated_at = now()
