-- Held until commit: writes to the analytics tables never interleave, whoever runs them.
select pg_advisory_xact_lock(%(lock_key)s)
