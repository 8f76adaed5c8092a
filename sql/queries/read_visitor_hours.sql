select event_id::text as event_id, hour_start, visitor_key
from event_analytics_visitor_hours
where hour_start >= %(start)s
  and hour_start < %(end)s
  and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
