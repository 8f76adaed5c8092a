select chunk_start, figures from event_analytics_backfill_chunks where backfill_id = %(backfill_id)s
