-- The items with hour rows stored in [start, end): with the window's computed items, every item a
-- rewrite of the window may touch (its rows replaced, or deleted as stale).
select distinct event_id::text from event_analytics
where period_type = 'hour' and period_start >= %(start)s and period_start < %(end)s
