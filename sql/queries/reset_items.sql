-- Forget everything derived for some items (period rows, summaries, visitor state), so that a
-- backfill over their whole history computes them as a first run would.
with periods as (
    delete from event_analytics where event_id = any(%(items)s::uuid[]) returning 1
), summaries as (
    delete from event_analytics_summary where event_id = any(%(items)s::uuid[]) returning 1
), visitors as (
    delete from event_analytics_visitors where event_id = any(%(items)s::uuid[]) returning 1
)
delete from event_analytics_visitor_hours where event_id = any(%(items)s::uuid[])
