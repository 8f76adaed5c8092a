-- Local hours awaiting recomputation, oldest first, how many there are in all, and when they were read.
select hour_start, count(*) over () as pending, now() as taken_at
from event_analytics_late_hours
order by hour_start
limit %(limit)s
