-- Rows no time window can ever hold, counted over the whole table (each an index range, not a
-- scan): without a timestamp, or dated outside [%(earliest)s, %(latest)s), the instants
-- transforms/validation.py places. Reported as rejected, never deleted.
select
    (select count(*) from event_analytics_events where "timestamp" is null) as rows_without_timestamp,
    (select count(*) from event_analytics_events where "timestamp" < %(earliest)s)
    + (select count(*) from event_analytics_events where "timestamp" >= %(latest)s) as rows_out_of_range
