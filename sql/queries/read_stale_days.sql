-- Items and local days whose hour or day rows were computed under other definitions.
select distinct event_id::text, (period_start at time zone %(tz)s)::date as day
from event_analytics
where period_type in ('hour', 'day')
  and definitions_version is distinct from current_setting('analytics.definitions_version', true)
order by 2, 1
