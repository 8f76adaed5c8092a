"""Time-ordered ids: valid UUIDv7 text, strictly increasing in write order, stamped with the write's time."""

from __future__ import annotations

import uuid

import pytest

from transforms.ids import ordered_ids

MS = 1_764_240_000_123  # 2025-11-27 10:40:00.123 UTC


def test_ids_are_uuid7_text_increasing_in_write_order_and_stamped() -> None:
    ids = ordered_ids(300_000, MS, entropy=7)
    assert ids.len() == 300_000 and ids.n_unique() == 300_000
    assert ids.is_sorted()  # text order is PostgreSQL's uuid order (bytes, big-endian)
    # Either side of the counter's split between rand_a and rand_b (2**18), and both ends.
    texts = ids.gather([0, 1, 2**18 - 1, 2**18, 299_999]).to_list()
    as_uuids = [uuid.UUID(text) for text in texts]
    assert [u.bytes for u in as_uuids] == sorted(u.bytes for u in as_uuids)
    for u in as_uuids:
        assert (u.version, u.variant) == (7, uuid.RFC_4122)
        assert int.from_bytes(u.bytes[:6], "big") == MS
    assert [str(u) for u in as_uuids] == texts


def test_two_writers_in_the_same_millisecond_do_not_collide() -> None:
    first, second = ordered_ids(50_000, MS, entropy=1), ordered_ids(50_000, MS, entropy=2)
    assert first.append(second).n_unique() == 100_000


def test_no_ids_and_bad_inputs() -> None:
    assert ordered_ids(0, MS, entropy=1).len() == 0
    with pytest.raises(ValueError, match="at most"):
        ordered_ids(1 << 30, MS, entropy=1)
    with pytest.raises(ValueError, match="48-bit"):
        ordered_ids(1, -1, entropy=1)
