-- Staged visitor-hours into the table, and into each visitor's all-time count.
with added as (
    insert into event_analytics_visitor_hours (event_id, hour_start, visitor_key)
    select event_id, hour_start, visitor_key from stage_visitor_hours
    returning event_id, visitor_key
)
insert into event_analytics_visitors (event_id, visitor_key, hours_count)
select event_id, visitor_key, count(*) from added group by event_id, visitor_key
on conflict (event_id, visitor_key) do update set hours_count = event_analytics_visitors.hours_count + excluded.hours_count
