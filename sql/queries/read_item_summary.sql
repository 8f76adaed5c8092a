-- The plan's GET /api/events/{id}/analytics: the item's summary row as JSON (none for an unknown item).
select row_to_json(s)::text from event_analytics_summary s where s.event_id = %(event_id)s
