-- Staged period rows into event_analytics, with the connection's definitions version; a row whose
-- figures and version did not change is left untouched.
insert into event_analytics as a (
    event_id, period_type, period_start, period_end,
    views_count, unique_views_count, clicks_count, shares_count, favorites_count,
    ticket_clicks, external_url_clicks, visits_count, bounced_visits_count,
    time_on_page_total_ms, time_on_page_views, first_view_at, last_view_at,
    avg_time_on_page_seconds, bounce_rate,
    traffic_sources, device_types, age_groups, genders, views_by_hour_of_day, views_by_weekday,
    definitions_version
)
select
    event_id, period_type, period_start, period_end,
    views_count, unique_views_count, clicks_count, shares_count, favorites_count,
    ticket_clicks, external_url_clicks, visits_count, bounced_visits_count,
    time_on_page_total_ms, time_on_page_views, first_view_at, last_view_at,
    avg_time_on_page_seconds, bounce_rate,
    traffic_sources, device_types, age_groups, genders, views_by_hour_of_day, views_by_weekday,
    current_setting('analytics.definitions_version', true)
from stage_periods
on conflict (event_id, period_start, period_type) do update set
    period_end = excluded.period_end,
    views_count = excluded.views_count,
    unique_views_count = excluded.unique_views_count,
    clicks_count = excluded.clicks_count,
    shares_count = excluded.shares_count,
    favorites_count = excluded.favorites_count,
    ticket_clicks = excluded.ticket_clicks,
    external_url_clicks = excluded.external_url_clicks,
    visits_count = excluded.visits_count,
    bounced_visits_count = excluded.bounced_visits_count,
    time_on_page_total_ms = excluded.time_on_page_total_ms,
    time_on_page_views = excluded.time_on_page_views,
    first_view_at = excluded.first_view_at,
    last_view_at = excluded.last_view_at,
    avg_time_on_page_seconds = excluded.avg_time_on_page_seconds,
    bounce_rate = excluded.bounce_rate,
    traffic_sources = excluded.traffic_sources,
    device_types = excluded.device_types,
    age_groups = excluded.age_groups,
    genders = excluded.genders,
    views_by_hour_of_day = excluded.views_by_hour_of_day,
    views_by_weekday = excluded.views_by_weekday,
    definitions_version = excluded.definitions_version,
    updated_at = now()
where (
    a.period_end, a.views_count, a.unique_views_count, a.clicks_count, a.shares_count, a.favorites_count,
    a.ticket_clicks, a.external_url_clicks, a.visits_count, a.bounced_visits_count,
    a.time_on_page_total_ms, a.time_on_page_views, a.first_view_at, a.last_view_at,
    a.avg_time_on_page_seconds, a.bounce_rate,
    a.traffic_sources, a.device_types, a.age_groups, a.genders, a.views_by_hour_of_day, a.views_by_weekday,
    a.definitions_version
) is distinct from (
    excluded.period_end, excluded.views_count, excluded.unique_views_count, excluded.clicks_count,
    excluded.shares_count, excluded.favorites_count, excluded.ticket_clicks, excluded.external_url_clicks,
    excluded.visits_count, excluded.bounced_visits_count, excluded.time_on_page_total_ms,
    excluded.time_on_page_views, excluded.first_view_at, excluded.last_view_at,
    excluded.avg_time_on_page_seconds, excluded.bounce_rate,
    excluded.traffic_sources, excluded.device_types, excluded.age_groups, excluded.genders,
    excluded.views_by_hour_of_day, excluded.views_by_weekday, excluded.definitions_version
)
