-- Items whose all-time state, on which every run's deltas build, disagrees with their hour rows and
-- visitor state: all_time counts against the sums of all hours, all-time uniques against the
-- all-time visitors, and the visitors' hours against the visitor-hours. One pass per table.
with hours as (
    select event_id, sum(views_count) as views_count, sum(clicks_count) as clicks_count, sum(shares_count) as shares_count,
           sum(favorites_count) as favorites_count, sum(ticket_clicks) as ticket_clicks,
           sum(external_url_clicks) as external_url_clicks, sum(visits_count) as visits_count,
           sum(bounced_visits_count) as bounced_visits_count, sum(time_on_page_total_ms) as time_on_page_total_ms,
           sum(time_on_page_views) as time_on_page_views
    from event_analytics
    where period_type = 'hour' and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
    group by event_id
), visitors as (
    select event_id, count(*) as visitors, sum(hours_count) as visitor_hours from event_analytics_visitors
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
    group by event_id
), visitor_hours as (
    select event_id, count(*) as visitor_hours from event_analytics_visitor_hours
    where %(items)s::uuid[] is null or event_id = any(%(items)s::uuid[])
    group by event_id
), all_time as (
    select * from event_analytics
    where period_type = 'all_time' and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
)
select event_id::text
from hours h
full join all_time a using (event_id)
full join visitors v using (event_id)
full join visitor_hours vh using (event_id)
where (
    coalesce(h.views_count, 0), coalesce(h.clicks_count, 0), coalesce(h.shares_count, 0), coalesce(h.favorites_count, 0),
    coalesce(h.ticket_clicks, 0), coalesce(h.external_url_clicks, 0), coalesce(h.visits_count, 0),
    coalesce(h.bounced_visits_count, 0), coalesce(h.time_on_page_total_ms, 0), coalesce(h.time_on_page_views, 0),
    coalesce(v.visitors, 0), coalesce(v.visitor_hours, 0)
) is distinct from (
    coalesce(a.views_count, 0), coalesce(a.clicks_count, 0), coalesce(a.shares_count, 0), coalesce(a.favorites_count, 0),
    coalesce(a.ticket_clicks, 0), coalesce(a.external_url_clicks, 0), coalesce(a.visits_count, 0),
    coalesce(a.bounced_visits_count, 0), coalesce(a.time_on_page_total_ms, 0), coalesce(a.time_on_page_views, 0),
    coalesce(a.unique_views_count, 0), coalesce(vh.visitor_hours, 0)
)
order by 1
