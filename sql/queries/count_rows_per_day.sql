-- Raw rows per local day of [start, end), to size a backfill's chunks (an index-only scan of the timestamps).
select ("timestamp" at time zone %(timezone)s)::date as day, count(*) as rows_count
from event_analytics_events
where "timestamp" >= %(start)s
  and "timestamp" < %(end)s
group by 1
