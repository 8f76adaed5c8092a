-- Ids of the raw rows of [$1, $2): what a retention run would archive and delete.
select id::text as id
from event_analytics_events
where "timestamp" >= $1
  and "timestamp" < $2
