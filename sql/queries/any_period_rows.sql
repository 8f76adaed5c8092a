-- Whether any row of a period type starts in [start, end) (of some items, or of any): an empty
-- span is written straight into the table (flows/load.py write_periods).
select exists (
    select 1 from event_analytics a
    where a.period_type = %(period_type)s
      and a.period_start >= %(start)s
      and a.period_start < %(end)s
      and (%(items)s::uuid[] is null or a.event_id = any(%(items)s::uuid[]))
)
