-- Drift: rows whose traffic sources or device types do not add up to their views.
select event_id::text, period_type, period_start, 1 as drifted
from event_analytics a
where (%(items)s::uuid[] is null or a.event_id = any(%(items)s::uuid[]))
  and (
      case when jsonb_typeof(a.traffic_sources) = 'object' then (
          select sum(case when jsonb_typeof(value) = 'number' then value::numeric end) from jsonb_each(a.traffic_sources)
      ) end is distinct from nullif(a.views_count, 0)
      or case when jsonb_typeof(a.device_types) = 'object' then (
          select sum(case when jsonb_typeof(value) = 'number' then value::numeric end) from jsonb_each(a.device_types)
      ) end is distinct from nullif(a.views_count, 0)
  )
