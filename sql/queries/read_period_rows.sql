select
    event_id::text as event_id, period_type, period_start, period_end,
    views_count::bigint, unique_views_count::bigint, clicks_count::bigint, shares_count::bigint,
    favorites_count::bigint, ticket_clicks::bigint, external_url_clicks::bigint,
    visits_count::bigint, bounced_visits_count::bigint, time_on_page_total_ms::bigint,
    time_on_page_views::bigint, first_view_at, last_view_at
from event_analytics
where period_type = %(period_type)s
  and period_start >= %(start)s
  and period_start < %(end)s
  and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
