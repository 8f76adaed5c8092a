-- Visitors left with no hour of an item are no longer its visitors; per item, how many went.
with departed as (
    delete from event_analytics_visitors where hours_count <= 0 returning event_id
)
select event_id::text, count(*) from departed group by event_id
