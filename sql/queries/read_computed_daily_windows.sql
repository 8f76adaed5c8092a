-- Local days whose daily run completed (window start as a UTC instant), for the demo to reuse.
select distinct window_start
from event_analytics_runs
where flow_name = 'daily' and window_start is not null
