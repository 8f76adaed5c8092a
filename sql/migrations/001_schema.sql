-- The plan's three tables (names, columns, types and defaults kept), plus what exact, incremental
-- and retention-safe metrics need. Re-runnable: every statement is guarded.

-- The plan's foreign-key target; created only where the platform has not created it.
create table if not exists events (
    id uuid primary key default gen_random_uuid(),
    title text,
    date timestamptz,
    status text default 'approved',
    created_at timestamptz default now()
);

-- Raw tracking rows. The plan declares event_id NOT NULL and a CHECK on event_type; the tracker
-- can still send rows that break them, and the spec says such rows are kept, rejected at
-- aggregation and counted. So the raw table accepts them (never deletes them).
create table if not exists event_analytics_events (
    id uuid primary key default gen_random_uuid(),
    event_id uuid references events(id) on delete cascade,
    event_type text not null,
    user_id uuid,
    session_id text,
    referrer text,
    user_agent text,
    ip_address inet,
    page_url text,
    timestamp timestamptz default now(),
    metadata jsonb default '{}'::jsonb
);
alter table event_analytics_events alter column event_id drop not null;
alter table event_analytics_events drop constraint if exists event_analytics_events_event_type_check;

do $$
begin
    -- user_id references auth.users only where Supabase's auth schema exists.
    if to_regclass('auth.users') is not null and not exists (
        select 1 from pg_constraint where conname = 'event_analytics_events_user_id_fkey'
    ) then
        alter table event_analytics_events
            add constraint event_analytics_events_user_id_fkey
            foreign key (user_id) references auth.users(id) on delete set null;
    end if;
end
$$;

create index if not exists idx_analytics_events_event_id on event_analytics_events (event_id, timestamp);
create index if not exists idx_analytics_events_type on event_analytics_events (event_type, timestamp);
-- Extraction reads one time window at a time.
create index if not exists idx_analytics_events_timestamp on event_analytics_events (timestamp);

create table if not exists event_analytics (
    id uuid primary key default gen_random_uuid(),
    event_id uuid not null references events(id) on delete cascade,
    period_start timestamptz not null,
    period_end timestamptz not null,
    period_type text not null check (period_type in ('hour', 'day', 'week', 'month', 'all_time')),
    views_count integer default 0,
    unique_views_count integer default 0,
    clicks_count integer default 0,
    shares_count integer default 0,
    favorites_count integer default 0,
    ticket_clicks integer default 0,
    external_url_clicks integer default 0,
    avg_time_on_page_seconds decimal(10, 2),
    bounce_rate decimal(5, 4),
    traffic_sources jsonb default '{}'::jsonb,
    device_types jsonb default '{}'::jsonb,
    age_groups jsonb default '{}'::jsonb,
    genders jsonb default '{}'::jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    unique (event_id, period_start, period_type)
);

-- Additive parts, so that longer periods are exact sums and never averages of averages.
alter table event_analytics add column if not exists visits_count integer not null default 0;
alter table event_analytics add column if not exists bounced_visits_count integer not null default 0;
alter table event_analytics add column if not exists time_on_page_total_ms bigint not null default 0;
alter table event_analytics add column if not exists time_on_page_views integer not null default 0;
alter table event_analytics add column if not exists first_view_at timestamptz;
alter table event_analytics add column if not exists last_view_at timestamptz;
-- Views by local hour of day and weekday, kept on all_time rows for peak hour and peak day.
alter table event_analytics add column if not exists views_by_hour_of_day jsonb not null default '{}'::jsonb;
alter table event_analytics add column if not exists views_by_weekday jsonb not null default '{}'::jsonb;

-- The plan's idx_event_analytics_event_id (event_id) is covered by idx_event_analytics_item_type_start.
create index if not exists idx_event_analytics_period on event_analytics (period_start, period_end);
-- An item's first and last hour rows without reading all of them.
-- (Dropped again by 008_drop_item_type_index: the plan's unique key serves the same reads, at one index less per row written.)
create index if not exists idx_event_analytics_item_type_start on event_analytics (event_id, period_type, period_start);

create table if not exists event_analytics_summary (
    event_id uuid primary key references events(id) on delete cascade,
    total_views integer default 0,
    total_unique_views integer default 0,
    total_clicks integer default 0,
    total_shares integer default 0,
    total_favorites integer default 0,
    total_ticket_clicks integer default 0,
    total_external_clicks integer default 0,
    avg_time_on_page_seconds decimal(10, 2),
    bounce_rate decimal(5, 4),
    peak_hour integer,
    peak_day text,
    views_24h integer default 0,
    unique_views_24h integer default 0,
    clicks_24h integer default 0,
    views_7d integer default 0,
    unique_views_7d integer default 0,
    views_30d integer default 0,
    unique_views_30d integer default 0,
    traffic_sources jsonb default '{}'::jsonb,
    device_types jsonb default '{}'::jsonb,
    first_view_at timestamptz,
    last_view_at timestamptz,
    updated_at timestamptz default now()
);
-- The instant the rolling windows end at (as_of truncated to the hour).
alter table event_analytics_summary add column if not exists as_of timestamptz;

-- Distinct visitors who viewed an item in a local clock hour: the additive-free part of exact
-- unique counts (day, week, month, rolling windows). Kept after raw rows are purged.
create table if not exists event_analytics_visitor_hours (
    event_id uuid not null,
    hour_start timestamptz not null,
    visitor_key text not null,
    primary key (event_id, hour_start, visitor_key)
);
create index if not exists idx_visitor_hours_hour on event_analytics_visitor_hours (hour_start);

-- All-time visitors of an item with the number of hours they viewed it in: unique counts over all
-- time stay exact and incremental, and a recomputed window can take a visitor away again.
create table if not exists event_analytics_visitors (
    event_id uuid not null,
    visitor_key text not null,
    hours_count integer not null,
    primary key (event_id, visitor_key)
);

-- One row per flow run: what was read, rejected, left out and written.
create table if not exists event_analytics_runs (
    run_id uuid primary key default gen_random_uuid(),
    flow_name text not null,
    window_start timestamptz,
    window_end timestamptz,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    report jsonb not null default '{}'::jsonb
);
