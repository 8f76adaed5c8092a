-- Per item: first and last view and the end of its last hour row. The ordered lookups use
-- the unique key (event_id, period_start, period_type), so their cost does not grow with history.
select
    i.event_id::text as event_id,
    (select a.first_view_at from event_analytics a
      where a.event_id = i.event_id and a.period_type = 'hour' and a.first_view_at is not null
      order by a.period_start limit 1) as first_view_at,
    (select a.last_view_at from event_analytics a
      where a.event_id = i.event_id and a.period_type = 'hour' and a.last_view_at is not null
      order by a.period_start desc limit 1) as last_view_at,
    (select a.period_end from event_analytics a
      where a.event_id = i.event_id and a.period_type = 'hour'
      order by a.period_start desc limit 1) as period_end
from unnest(%(items)s::uuid[]) as i (event_id)
