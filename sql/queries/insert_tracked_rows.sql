-- One batch of tracked rows in one statement (group commit). Rows of items that do not exist are
-- left out and reported back by their absence from the returned ids.
insert into event_analytics_events (
    id, event_id, event_type, user_id, session_id, referrer, user_agent, ip_address, page_url, "timestamp", metadata
)
select r.id, r.event_id, r.event_type, r.user_id, r.session_id, r.referrer, r.user_agent, r.ip_address, r.page_url, r.received_at, r.metadata
from unnest(
    %(ids)s::uuid[], %(event_ids)s::uuid[], %(event_types)s::text[], %(user_ids)s::uuid[], %(session_ids)s::text[],
    %(referrers)s::text[], %(user_agents)s::text[], %(ip_addresses)s::text[]::inet[], %(page_urls)s::text[],
    %(received_at)s::timestamptz[], %(metadata)s::text[]::jsonb[]
) as r (id, event_id, event_type, user_id, session_id, referrer, user_agent, ip_address, page_url, received_at, metadata)
where exists (select 1 from events e where e.id = r.event_id)
returning id::text
