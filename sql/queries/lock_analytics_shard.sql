-- Held until commit by the write of one item shard (flows/window.py): the analytics write lock in
-- shared mode, so that the writers of other shards go on while every other writer waits, then the
-- shard's own lock, so that no two writers of one shard's items interleave.
select pg_advisory_xact_lock_shared(%(lock_key)s), pg_advisory_xact_lock(%(shard_class)s, %(shard)s)
