-- UTC hours of the raw rows committed since the watermark (transactions from its position on, and
-- those in progress when it was set), with how many rows each got. Index scans on ingested_xid:
-- the cost follows the new rows, not the table.
select date_trunc('hour', "timestamp") as utc_hour, count(*) as late_rows
from event_analytics_events
where (ingested_xid >= %(position)s::xid8 or ingested_xid = any(%(in_progress)s::text[]::xid8[]))
  and "timestamp" is not null
group by 1
order by 1
