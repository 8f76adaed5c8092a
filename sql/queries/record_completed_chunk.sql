-- completed_at is when the chunk's writes were done (clock_timestamp, not the transaction's start),
-- so that a chunk's record tells when it finished.
insert into event_analytics_backfill_chunks (backfill_id, chunk_start, chunk_end, figures, completed_at)
values (%(backfill_id)s, %(chunk_start)s, %(chunk_end)s, %(figures)s, clock_timestamp())
on conflict (backfill_id, chunk_start) do update set completed_at = clock_timestamp(), figures = excluded.figures
