-- The plan's GET /api/events/{id}/analytics/periods: the item's rows of one period type that lie in
-- [start, end], ascending, as one JSON array.
select coalesce(json_agg(row_to_json(a) order by a.period_start), '[]')::text
from event_analytics a
where a.event_id = %(event_id)s
  and a.period_type = %(period_type)s
  and a.period_start >= %(start)s
  and a.period_end <= %(end)s
