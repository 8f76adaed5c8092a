"""Item shards: a partition of items that every run computes alike, so that the writes of two
shards never touch the same rows and can run side by side (flows/window.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable


def item_shard(event_id: str, shards: int) -> int:
    """The shard of an item: fixed by its id alone, whatever else a run holds."""
    return uuid.UUID(event_id).int % shards


def shard_items(items: Iterable[str], shards: int) -> list[list[str]]:
    """`items` split into `shards` sorted lists by item_shard (some may be empty)."""
    split: list[list[str]] = [[] for _ in range(shards)]
    for item in sorted(set(items)):
        split[item_shard(item, shards)].append(item)
    return split
