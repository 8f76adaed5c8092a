-- Drift: day, week, month and all_time rows that differ from the sums of their hour rows (counts,
-- additive parts, first and last view). A missing row on either side counts as zeros. Weeks and
-- months still in progress (the daily run refreshes them) are left out.
with hours as (
    select
        event_id, period_start at time zone %(tz)s as local_start,
        views_count, clicks_count, shares_count, favorites_count, ticket_clicks, external_url_clicks,
        visits_count, bounced_visits_count, time_on_page_total_ms, time_on_page_views, first_view_at, last_view_at
    from event_analytics
    where period_type = 'hour' and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
), sums as (
    select
        h.event_id, k.period_type, k.period_start,
        sum(views_count) as views_count, sum(clicks_count) as clicks_count, sum(shares_count) as shares_count,
        sum(favorites_count) as favorites_count, sum(ticket_clicks) as ticket_clicks,
        sum(external_url_clicks) as external_url_clicks, sum(visits_count) as visits_count,
        sum(bounced_visits_count) as bounced_visits_count, sum(time_on_page_total_ms) as time_on_page_total_ms,
        sum(time_on_page_views) as time_on_page_views, min(first_view_at) as first_view_at, max(last_view_at) as last_view_at
    from hours h
    cross join lateral (
        values
            ('day', date_trunc('day', h.local_start) at time zone %(tz)s),
            ('week', date_trunc('week', h.local_start) at time zone %(tz)s),
            ('month', date_trunc('month', h.local_start) at time zone %(tz)s),
            ('all_time', %(all_time_start)s::timestamptz)
    ) as k (period_type, period_start)
    group by h.event_id, k.period_type, k.period_start
), stored as (
    select * from event_analytics
    where period_type in ('day', 'week', 'month', 'all_time')
      and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
)
select event_id::text, period_type, period_start, 1 as drifted
from sums s
full join stored p using (event_id, period_type, period_start)
where (
    coalesce(s.views_count, 0), coalesce(s.clicks_count, 0), coalesce(s.shares_count, 0),
    coalesce(s.favorites_count, 0), coalesce(s.ticket_clicks, 0), coalesce(s.external_url_clicks, 0),
    coalesce(s.visits_count, 0), coalesce(s.bounced_visits_count, 0), coalesce(s.time_on_page_total_ms, 0),
    coalesce(s.time_on_page_views, 0), s.first_view_at, s.last_view_at
) is distinct from (
    coalesce(p.views_count, 0), coalesce(p.clicks_count, 0), coalesce(p.shares_count, 0),
    coalesce(p.favorites_count, 0), coalesce(p.ticket_clicks, 0), coalesce(p.external_url_clicks, 0),
    coalesce(p.visits_count, 0), coalesce(p.bounced_visits_count, 0), coalesce(p.time_on_page_total_ms, 0),
    coalesce(p.time_on_page_views, 0), p.first_view_at, p.last_view_at
)
  and not (period_type = 'week' and period_start >= date_trunc('week', %(today)s::timestamp) at time zone %(tz)s)
  and not (period_type = 'month' and period_start >= date_trunc('month', %(today)s::timestamp) at time zone %(tz)s)
