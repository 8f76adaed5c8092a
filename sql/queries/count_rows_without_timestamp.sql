-- Rows no time window can ever hold; reported as rejected (missing_timestamp), never deleted.
select count(*) from event_analytics_events where "timestamp" is null
