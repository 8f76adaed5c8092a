-- The plan's top-events view, with the `events` columns this platform has (title, date, status
-- where present), refreshed concurrently by the daily flow (hence the unique index).
do $$
declare
    extra text := '';
    approved text := '';
begin
    if to_regclass('event_analytics_top_events') is not null then
        return;
    end if;
    if exists (select 1 from information_schema.columns where table_schema = current_schema() and table_name = 'events' and column_name = 'title') then
        extra := extra || ', e.title';
    end if;
    if exists (select 1 from information_schema.columns where table_schema = current_schema() and table_name = 'events' and column_name = 'date') then
        extra := extra || ', e.date';
    end if;
    if exists (select 1 from information_schema.columns where table_schema = current_schema() and table_name = 'events' and column_name = 'status') then
        approved := 'where e.status = ''approved''';
    end if;
    execute format(
        'create materialized view event_analytics_top_events as
         select e.id as event_id%s, s.total_views, s.total_unique_views, s.total_clicks, s.views_24h, s.views_7d
         from events e
         left join event_analytics_summary s on s.event_id = e.id
         %s
         order by s.total_views desc nulls last, e.id
         limit 100',
        extra, approved
    );
end
$$;
create unique index if not exists idx_top_events_event_id on event_analytics_top_events (event_id);
