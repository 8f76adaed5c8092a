-- Late hours in [start, end) that a committed recomputation covered (in the same transaction as its
-- rows); hours queued again after `taken_at` stay for the next run. Returns how many hours and rows went.
with taken as (
    delete from event_analytics_late_hours
    where hour_start >= %(start)s and hour_start < %(end)s and found_at <= %(taken_at)s
    returning late_rows
)
select count(*), coalesce(sum(late_rows), 0)::bigint from taken
