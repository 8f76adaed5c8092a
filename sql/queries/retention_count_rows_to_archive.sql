-- Rows past the archive cut-off per UTC month; rows without a timestamp never qualify.
select
    to_char("timestamp" at time zone 'UTC', 'YYYY-MM') as month,
    count(*) as rows_to_archive
from event_analytics_events
where "timestamp" < %(before)s
group by 1
order by 1
