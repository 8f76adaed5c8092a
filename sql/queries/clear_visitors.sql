-- First half of recounting some items' all-time visitors (see rebuild_visitors).
delete from event_analytics_visitors where event_id = any(%(items)s::uuid[])
