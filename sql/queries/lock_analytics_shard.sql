-- Held until commit by the write of one item shard (flows/window.py, transforms/shards.py): the
-- analytics write lock in shared mode, so that the writers of other shards go on while every other
-- writer waits, then the lock of each of the shard's item buckets, in ascending order, so that no
-- two writers that could share an item interleave, however many shards each split items into.
select pg_advisory_xact_lock_shared(%(lock_key)s),
       (select count(pg_advisory_xact_lock(%(shard_class)s, bucket)) from unnest(%(buckets)s::int[]) as bucket)
