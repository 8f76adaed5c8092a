-- Drift: day, week, month and all_time breakdowns (and all-time views by local hour of day and
-- weekday) that differ, key by key, from the sums of their hour rows' breakdowns.
with hours as (
    select event_id, period_start at time zone %(tz)s as local_start, views_count, traffic_sources, device_types, age_groups, genders
    from event_analytics
    where period_type = 'hour' and (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
), hour_values as (
    select h.event_id, h.local_start, d.dimension, kv.key, kv.value
    from hours h
    cross join lateral (
        values ('traffic_sources', h.traffic_sources), ('device_types', h.device_types), ('age_groups', h.age_groups), ('genders', h.genders)
    ) as d (dimension, doc)
    cross join lateral jsonb_each(case when jsonb_typeof(d.doc) = 'object' then d.doc else '{}'::jsonb end) as kv
), day_sums as (
    -- Days first, then weeks, months and all time from the days: 24 times fewer rows to regroup.
    select event_id, date_trunc('day', local_start) as local_day, dimension, key,
           sum(case when jsonb_typeof(value) = 'number' then value::numeric end) as views
    from hour_values
    group by 1, 2, 3, 4
), sums as (
    select d.event_id, k.period_type, k.period_start, d.dimension, d.key, sum(d.views) as views
    from day_sums d
    cross join lateral (
        values
            ('day', d.local_day at time zone %(tz)s),
            ('week', date_trunc('week', d.local_day) at time zone %(tz)s),
            ('month', date_trunc('month', d.local_day) at time zone %(tz)s),
            ('all_time', %(all_time_start)s::timestamptz)
    ) as k (period_type, period_start)
    group by 1, 2, 3, 4, 5
    union all
    select event_id, 'all_time', %(all_time_start)s::timestamptz, 'views_by_hour_of_day', extract(hour from local_start)::int::text, sum(views_count)
    from hours where views_count > 0 group by 1, 5
    union all
    select event_id, 'all_time', %(all_time_start)s::timestamptz, 'views_by_weekday', trim(to_char(local_start, 'Day')), sum(views_count)
    from hours where views_count > 0 group by 1, 5
), stored as (
    select a.event_id, a.period_type, a.period_start, d.dimension, kv.key,
           case when jsonb_typeof(kv.value) = 'number' then kv.value::numeric end as views
    from event_analytics a
    cross join lateral (
        values
            ('traffic_sources', a.traffic_sources), ('device_types', a.device_types), ('age_groups', a.age_groups),
            ('genders', a.genders), ('views_by_hour_of_day', a.views_by_hour_of_day), ('views_by_weekday', a.views_by_weekday)
    ) as d (dimension, doc)
    cross join lateral jsonb_each(case when jsonb_typeof(d.doc) = 'object' then d.doc else '{"not an object": null}'::jsonb end) as kv
    where a.period_type in ('day', 'week', 'month', 'all_time')
      and (%(items)s::uuid[] is null or a.event_id = any(%(items)s::uuid[]))
)
select distinct event_id::text, period_type, period_start, 1 as drifted
from sums s
full join stored p using (event_id, period_type, period_start, dimension, key)
where coalesce(s.views, 0) is distinct from coalesce(p.views, case when p.event_id is null then 0 end)
  and not (period_type = 'week' and period_start >= date_trunc('week', %(today)s::timestamp) at time zone %(tz)s)
  and not (period_type = 'month' and period_start >= date_trunc('month', %(today)s::timestamp) at time zone %(tz)s)
