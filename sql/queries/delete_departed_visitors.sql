-- Visitors left with no hour of an item are no longer its visitors; per item, how many went. Only
-- the visitors this transaction decremented are looked at (stage_decremented): the cost follows
-- the window, not the history.
with departed as (
    delete from event_analytics_visitors v
    using stage_decremented d
    where v.event_id = d.event_id and v.visitor_key = d.visitor_key and v.hours_count <= 0
    returning v.event_id
)
select event_id::text, count(*) from departed group by event_id
