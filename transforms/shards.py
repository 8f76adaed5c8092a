"""Item shards: a partition of items that every run computes alike, so that the writes of two
shards never touch the same rows and can run side by side (flows/window.py).

An item falls in one of LOCK_BUCKETS buckets by its id; shard k of S holds the buckets b with
b % S == k, and its writer locks those buckets. Two writers that could share an item then share a
bucket lock, even when they split items into different numbers of shards."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

LOCK_BUCKETS = 64


def item_bucket(event_id: str) -> int:
    """The item's lock bucket: fixed by its id alone."""
    return uuid.UUID(event_id).int % LOCK_BUCKETS


def item_shard(event_id: str, shards: int) -> int:
    """The shard of an item among `shards` (1 to LOCK_BUCKETS)."""
    if not 1 <= shards <= LOCK_BUCKETS:
        raise ValueError(f"shards must be 1 to {LOCK_BUCKETS}, got {shards}")
    return item_bucket(event_id) % shards


def shard_buckets(shard: int, shards: int) -> list[int]:
    """The lock buckets of shard `shard` of `shards`, ascending (the order they are locked in)."""
    return list(range(shard, LOCK_BUCKETS, shards))


def shard_items(items: Iterable[str], shards: int) -> list[list[str]]:
    """`items` split into `shards` sorted lists by item_shard (some may be empty)."""
    split: list[list[str]] = [[] for _ in range(shards)]
    for item in sorted(set(items)):
        split[item_shard(item, shards)].append(item)
    return split
