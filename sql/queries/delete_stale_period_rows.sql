-- Rows of recomputed periods that the recomputation no longer produces (e.g. only bot rows left).
delete from event_analytics a
where a.period_type = %(period_type)s
  and a.period_start >= %(start)s
  and a.period_start < %(end)s
  and (%(items)s::uuid[] is null or a.event_id = any(%(items)s::uuid[]))
  and not exists (
      select 1 from stage_periods s
      where s.event_id = a.event_id and s.period_start = a.period_start and s.period_type = a.period_type
  )
