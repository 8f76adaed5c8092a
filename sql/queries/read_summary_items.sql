-- Items whose rolling figures may still change as time passes.
select event_id::text from event_analytics_summary
where views_30d > 0 or clicks_24h > 0 or as_of is null or as_of < %(as_of)s - interval '30 days'
