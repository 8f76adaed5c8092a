update event_analytics_backfills set finished_at = clock_timestamp() where backfill_id = %(backfill_id)s
