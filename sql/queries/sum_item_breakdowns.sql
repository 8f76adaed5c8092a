-- The breakdowns of an item's rows of one type in [start, end), summed per (item, dimension, key):
-- what the all-time deltas need of the rows a window replaces, summed where they are stored.
select a.event_id::text as event_id, %(period_type)s as period_type, %(start)s::timestamptz as period_start,
       d.dimension, kv.key, sum(kv.value::bigint) as views
from event_analytics a
cross join lateral (
    values
        ('traffic_sources', a.traffic_sources),
        ('device_types', a.device_types),
        ('age_groups', a.age_groups),
        ('genders', a.genders),
        ('hour_of_day', a.views_by_hour_of_day),
        ('weekday', a.views_by_weekday)
) as d (dimension, doc)
cross join lateral jsonb_each_text(d.doc) as kv
where a.period_type = %(period_type)s
  and a.period_start >= %(start)s
  and a.period_start < %(end)s
  and (%(items)s::uuid[] is null or a.event_id = any(%(items)s::uuid[]))
group by a.event_id, d.dimension, kv.key
