create temp table if not exists stage_periods (
    event_id uuid not null,
    period_type text not null,
    period_start timestamptz not null,
    period_end timestamptz not null,
    views_count integer not null,
    unique_views_count integer not null,
    clicks_count integer not null,
    shares_count integer not null,
    favorites_count integer not null,
    ticket_clicks integer not null,
    external_url_clicks integer not null,
    visits_count integer not null,
    bounced_visits_count integer not null,
    time_on_page_total_ms bigint not null,
    time_on_page_views integer not null,
    first_view_at timestamptz,
    last_view_at timestamptz,
    avg_time_on_page_seconds decimal(10, 2),
    bounce_rate decimal(5, 4),
    traffic_sources jsonb not null,
    device_types jsonb not null,
    age_groups jsonb not null,
    genders jsonb not null,
    views_by_hour_of_day jsonb not null,
    views_by_weekday jsonb not null
) on commit drop;
create temp table if not exists stage_visitor_counts (
    event_id uuid not null,
    visitor_key text not null,
    hours_count integer not null
) on commit drop;
create temp table if not exists stage_decremented (
    event_id uuid not null,
    visitor_key text not null
) on commit drop;
create temp table if not exists stage_summary (
    event_id uuid not null,
    total_views integer not null,
    total_unique_views integer not null,
    total_clicks integer not null,
    total_shares integer not null,
    total_favorites integer not null,
    total_ticket_clicks integer not null,
    total_external_clicks integer not null,
    avg_time_on_page_seconds decimal(10, 2),
    bounce_rate decimal(5, 4),
    peak_hour integer,
    peak_day text,
    views_24h integer not null,
    unique_views_24h integer not null,
    clicks_24h integer not null,
    views_7d integer not null,
    unique_views_7d integer not null,
    views_30d integer not null,
    unique_views_30d integer not null,
    first_view_at timestamptz,
    last_view_at timestamptz,
    as_of timestamptz,
    traffic_sources jsonb not null,
    device_types jsonb not null
) on commit drop;
