"""Backfill chunk plans: consecutive days grouped by their rows, never across a done day."""

from __future__ import annotations

from datetime import date, timedelta

from transforms.chunks import plan_chunks

D = date(2026, 9, 1)


def days(*offsets: int) -> list[date]:
    return [D + timedelta(days=o) for o in offsets]


def test_days_are_grouped_up_to_the_row_limit() -> None:
    rows = dict(zip(days(0, 1, 2, 3, 4), [100, 100, 100, 250, 10], strict=True))
    assert plan_chunks(days(0, 1, 2, 3, 4), rows, max_rows=300, max_days=31) == [(D, 3), (D + timedelta(days=3), 2)]


def test_the_first_chunk_can_be_held_smaller() -> None:
    rows = dict(zip(days(*range(8)), [100] * 8, strict=True))
    assert plan_chunks(days(*range(8)), rows, max_rows=300, max_days=31, first_max_rows=150) == [
        (D, 1),
        (D + timedelta(days=1), 3),
        (D + timedelta(days=4), 3),
        (D + timedelta(days=7), 1),
    ]
    # A first day over the smaller limit is still a chunk of its own, and the next chunks are full size.
    assert plan_chunks(days(*range(4)), rows, max_rows=300, max_days=31, first_max_rows=50) == [(D, 1), (D + timedelta(days=1), 3)]


def test_a_day_over_the_limit_is_a_chunk_of_its_own() -> None:
    rows = dict(zip(days(0, 1, 2), [10, 1_000, 10], strict=True))
    assert plan_chunks(days(0, 1, 2), rows, max_rows=300, max_days=31) == [(D, 1), (D + timedelta(days=1), 1), (D + timedelta(days=2), 1)]


def test_fixed_days_when_rows_are_not_counted() -> None:
    assert plan_chunks(days(*range(10)), {}, max_rows=0, max_days=4) == [
        (D, 4),
        (D + timedelta(days=4), 4),
        (D + timedelta(days=8), 2),
    ]


def test_a_done_day_ends_a_chunk_and_single_days_stand_alone() -> None:
    pending = days(0, 1, 3, 4, 5, 6)
    assert plan_chunks(pending, {}, max_rows=10, max_days=31, single_days=days(5)) == [
        (D, 2),
        (D + timedelta(days=3), 2),
        (D + timedelta(days=5), 1),
        (D + timedelta(days=6), 1),
    ]


def test_empty_days_cost_nothing_and_nothing_plans_nothing() -> None:
    assert plan_chunks(days(*range(40)), {}, max_rows=10, max_days=31) == [(D, 31), (D + timedelta(days=31), 9)]
    assert plan_chunks([], {}, max_rows=10, max_days=31) == []
