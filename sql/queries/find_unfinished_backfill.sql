select backfill_id::text from event_analytics_backfills
where parameters_key = %(key)s and finished_at is null
order by started_at desc
limit 1
