-- Items with any stored analytics row (the all_time rows say which).
select count(distinct event_id) from event_analytics where period_type = 'all_time'
