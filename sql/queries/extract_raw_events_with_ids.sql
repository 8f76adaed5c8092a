-- extract_raw_events.sql with each row's id first: read in the same statement, so the same
-- snapshot, as the rows, the ids say which archived copies to leave out (flows/extract.py).
select
    id::text as id,
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
