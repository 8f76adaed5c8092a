update event_analytics_backfills set finished_at = now() where backfill_id = %(backfill_id)s
