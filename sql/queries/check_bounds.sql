-- Drift: unique views above views, a bounce rate outside [0, 1], or a negative count.
select event_id::text, period_type, period_start, 1 as drifted
from event_analytics
where (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
  and (
      unique_views_count > views_count
      or bounce_rate not between 0 and 1
      or least(views_count, unique_views_count, clicks_count, shares_count, favorites_count, ticket_clicks,
               external_url_clicks, visits_count, bounced_visits_count, time_on_page_total_ms, time_on_page_views) < 0
  )
union all
select event_id::text, 'summary', null::timestamptz, 1
from event_analytics_summary
where (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
  and (total_unique_views > total_views or bounce_rate not between 0 and 1)
