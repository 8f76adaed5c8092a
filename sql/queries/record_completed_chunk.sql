insert into event_analytics_backfill_chunks (backfill_id, chunk_start, chunk_end, figures)
values (%(backfill_id)s, %(chunk_start)s, %(chunk_end)s, %(figures)s)
on conflict (backfill_id, chunk_start) do update set completed_at = now(), figures = excluded.figures
