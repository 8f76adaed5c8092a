-- Raw rows of [$1, $2) with every column, as text where Parquet has no matching type.
-- abbrev() keeps an address's netmask only when it is not the full one, so the text round-trips.
select
    id::text as id,
    event_id::text as event_id,
    event_type,
    user_id::text as user_id,
    session_id,
    referrer,
    user_agent,
    abbrev(ip_address) as ip_address,
    page_url,
    "timestamp",
    metadata::text as metadata
from event_analytics_events
where "timestamp" >= $1
  and "timestamp" < $2
