insert into event_analytics_backfills (parameters_key, parameters) values (%(key)s, %(parameters)s)
returning backfill_id::text
