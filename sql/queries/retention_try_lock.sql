-- Held for the session: two retention runs never write the same month of the archive at once.
select pg_try_advisory_lock(%(lock_key)s)
