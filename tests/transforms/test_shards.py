"""Item shards: fixed by the item's id alone, a partition of any set of items."""

from __future__ import annotations

import uuid

from transforms.shards import item_shard, shard_items

ITEMS = [str(uuid.UUID(int=n * 7_919 + 3)) for n in range(40)]


def test_an_item_keeps_its_shard_whatever_else_is_split() -> None:
    alone = {item: shard_items([item], 3) for item in ITEMS}
    together = shard_items(ITEMS, 3)
    for item in ITEMS:
        shard = item_shard(item, 3)
        assert alone[item][shard] == [item]
        assert item in together[shard]
    assert item_shard("00000000-0000-0000-0000-000000000005", 2) == 1
    assert item_shard("00000000-0000-0000-0000-000000000005", 3) == 2


def test_shards_partition_the_items_sorted() -> None:
    split = shard_items([*ITEMS, *ITEMS[:5]], 2)
    assert sorted(split[0] + split[1]) == sorted(ITEMS)
    assert not set(split[0]) & set(split[1])
    assert all(part == sorted(part) for part in split)
    assert all(part for part in split)
    assert shard_items([], 2) == [[], []]
