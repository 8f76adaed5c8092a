-- Whether a backfill of [start, end) has anything to do: raw rows to count, or hour rows it would clear
-- (all items, or only those of %(items)s when it is not null).
select exists (
           select 1
           from event_analytics_events
           where "timestamp" >= %(start)s
             and "timestamp" < %(end)s
             and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
       )
    or exists (
           select 1
           from event_analytics
           where period_type = 'hour'
             and period_start >= %(start)s
             and period_start < %(end)s
             and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
       )
