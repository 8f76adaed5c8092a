"""Item shards: fixed by the item's id alone, a partition of any set of items, and locked by
buckets that any two shards able to share an item have in common."""

from __future__ import annotations

import uuid

import pytest

from transforms.shards import LOCK_BUCKETS, item_bucket, item_shard, shard_buckets, shard_items

ITEMS = [str(uuid.UUID(int=n * 7_919 + 3)) for n in range(40)]


def test_an_item_keeps_its_shard_whatever_else_is_split() -> None:
    alone = {item: shard_items([item], 3) for item in ITEMS}
    together = shard_items(ITEMS, 3)
    for item in ITEMS:
        shard = item_shard(item, 3)
        assert alone[item][shard] == [item]
        assert item in together[shard]
    assert item_bucket("00000000-0000-0000-0000-000000000045") == 5
    assert item_shard("00000000-0000-0000-0000-000000000045", 2) == 1
    assert item_shard("00000000-0000-0000-0000-000000000045", 3) == 2
    with pytest.raises(ValueError, match="shards must be 1 to 64"):
        item_shard(ITEMS[0], LOCK_BUCKETS + 1)


def test_shards_partition_the_items_sorted() -> None:
    split = shard_items([*ITEMS, *ITEMS[:5]], 2)
    assert sorted(split[0] + split[1]) == sorted(ITEMS)
    assert not set(split[0]) & set(split[1])
    assert all(part == sorted(part) for part in split)
    assert all(part for part in split)
    assert shard_items([], 2) == [[], []]


@pytest.mark.parametrize("shards", [1, 2, 3, 7, 64])
def test_a_shard_locks_the_buckets_of_its_items_and_the_shards_cover_every_bucket_once(shards: int) -> None:
    buckets = [shard_buckets(shard, shards) for shard in range(shards)]
    assert sorted(b for part in buckets for b in part) == list(range(LOCK_BUCKETS))
    assert all(part == sorted(part) for part in buckets)
    for item in ITEMS:
        assert item_bucket(item) in buckets[item_shard(item, shards)]


def test_shards_of_different_counts_that_can_share_an_item_share_a_bucket() -> None:
    for item in ITEMS:
        for a in (2, 3, 5):
            for b in (2, 4, 7):
                mine = set(shard_buckets(item_shard(item, a), a))
                theirs = set(shard_buckets(item_shard(item, b), b))
                assert mine & theirs
