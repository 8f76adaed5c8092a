-- Raw rows of [$1, $2): only the columns the metrics need, metadata keys read one by one.
select
    event_id::text as event_id,
    event_type,
    coalesce(user_id::text, session_id) as visitor_key,
    referrer,
    user_agent,
    page_url,
    "timestamp" as occurred_at,
    metadata ->> 'time_on_page_seconds' as time_on_page_seconds,
    metadata ->> 'age_group' as age_group,
    metadata ->> 'gender' as gender
from event_analytics_events
where "timestamp" >= $1
  and "timestamp" < $2
