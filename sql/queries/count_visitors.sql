select event_id::text, count(*) from event_analytics_visitors where event_id = any(%(items)s::uuid[]) group by event_id
