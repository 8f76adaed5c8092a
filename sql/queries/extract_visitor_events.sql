-- Raw rows of [$1, $2) of the visitors named in $3 (a JSON array of visitor keys), in the shape of
-- extract_raw_events: visits still going at a window's lower edge are followed back with them.
with visitors as (
    select json_array_elements_text($3::json) as visitor_key
)
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
  and coalesce(user_id::text, session_id) in (select visitor_key from visitors)
