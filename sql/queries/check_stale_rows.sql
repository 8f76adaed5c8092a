-- Rows computed under other definitions than this connection's (NULL: before versions were kept).
select period_type, count(*) from event_analytics
where (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
  and definitions_version is distinct from current_setting('analytics.definitions_version', true)
group by 1
union all
select 'summary', count(*) from event_analytics_summary
where (%(items)s::uuid[] is null or event_id = any(%(items)s::uuid[]))
  and definitions_version is distinct from current_setting('analytics.definitions_version', true)
having count(*) > 0
