delete from event_analytics_visitors where hours_count <= 0
