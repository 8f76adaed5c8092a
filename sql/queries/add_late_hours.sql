-- Queue local hours with late rows; an hour queued again is stamped again, so that a run which took
-- it earlier does not take it off the queue.
insert into event_analytics_late_hours (hour_start, late_rows)
select hour_start, late_rows from unnest(%(hours)s::timestamptz[], %(rows)s::bigint[]) as h (hour_start, late_rows)
on conflict (hour_start) do update set late_rows = event_analytics_late_hours.late_rows + excluded.late_rows, found_at = now()
