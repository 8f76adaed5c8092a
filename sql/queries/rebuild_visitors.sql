-- Recount the all-time visitors of some items from their visitor-hours, after clear_visitors
-- (a repair: it reads their whole history).
insert into event_analytics_visitors (event_id, visitor_key, hours_count)
select event_id, visitor_key, count(*) from event_analytics_visitor_hours
where event_id = any(%(items)s::uuid[])
group by event_id, visitor_key
