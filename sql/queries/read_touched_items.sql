select event_id::text from analytics_touched_items order by event_id
