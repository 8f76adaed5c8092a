-- Staged per-visitor hour counts into each visitor's all-time count; per item, how many visitors
-- are new to it (xmax = 0 marks a row inserted rather than updated).
with counted as (
    insert into event_analytics_visitors (event_id, visitor_key, hours_count)
    select event_id, visitor_key, hours_count from stage_visitor_counts
    on conflict (event_id, visitor_key) do update set hours_count = event_analytics_visitors.hours_count + excluded.hours_count
    returning event_id, (xmax = 0) as is_new
)
select event_id::text, count(*) filter (where is_new) from counted group by event_id
