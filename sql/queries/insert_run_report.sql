insert into event_analytics_runs (flow_name, window_start, window_end, started_at, finished_at, report)
values (%(flow_name)s, %(window_start)s, %(window_end)s, %(started_at)s, now(), %(report)s)
