-- Breakdowns of the rows of one type (hours or days) summed into the periods that contain them,
-- one row per (item, period, dimension, key): the sums cross the wire, not every source row's keys.
select a.event_id::text as event_id, %(period_type)s as period_type, p.period_start, d.dimension, kv.key, sum(kv.value::bigint) as views
from unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) as p (period_start, period_end)
cross join lateral (
    -- One index range scan per period, as in count_period_visitors.sql.
    select a.event_id, a.traffic_sources, a.device_types, a.age_groups, a.genders, a.views_by_hour_of_day, a.views_by_weekday
    from event_analytics a
    where a.event_id = any(%(items)s::uuid[]) and a.period_type = %(source_type)s
      and a.period_start >= p.period_start and a.period_start < p.period_end
    offset 0
) as a
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
group by a.event_id, p.period_start, d.dimension, kv.key
