-- Take a window's visitor-hours away (of some items, or all), and those hours from each visitor's
-- all-time count; the visitors so decremented are kept in stage_decremented, the only ones that can
-- have departed (delete_departed_visitors), so that no statement scans every visitor of history.
with removed as (
    delete from event_analytics_visitor_hours
    where hour_start >= %(start)s and hour_start < %(end)s
      and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
    returning event_id, visitor_key
), per_visitor as (
    select event_id, visitor_key, count(*) as hours from removed group by event_id, visitor_key
), decremented as (
    update event_analytics_visitors v
    set hours_count = v.hours_count - p.hours
    from per_visitor p
    where v.event_id = p.event_id and v.visitor_key = p.visitor_key
    returning v.event_id, v.visitor_key
)
insert into stage_decremented (event_id, visitor_key)
select event_id, visitor_key from decremented
