-- Rows past the archive cut-off per UTC month. Rows without a timestamp, or dated before
-- %(earliest)s (rows the calendar cannot place, see transforms/validation.py), never qualify.
select
    to_char("timestamp" at time zone 'UTC', 'YYYY-MM') as month,
    count(*) as rows_to_archive
from event_analytics_events
where "timestamp" >= %(earliest)s
  and "timestamp" < %(before)s
group by 1
order by 1
