"""Backfill chunks: runs of consecutive local days, sized by the raw rows they hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta


def plan_chunks(
    days: Iterable[date],
    rows_per_day: Mapping[date, int],
    *,
    max_rows: int,
    max_days: int,
    single_days: Iterable[date] = (),
    first_max_rows: int | None = None,
) -> list[tuple[date, int]]:
    """Group `days` (ascending) into chunks of consecutive days, as (first day, number of days).

    A chunk grows while it holds at most `max_rows` rows and `max_days` days; a day alone over
    `max_rows` is a chunk of its own. A gap between the given days (a day left out: already done)
    always ends a chunk, and so does every day in `single_days` (days whose rows cannot be counted
    beforehand, such as archived ones), which is a chunk of its own. With `first_max_rows`, the
    first chunk holds at most that many rows (a day alone over it still is a chunk of its own).
    """
    single = set(single_days)
    chunks: list[tuple[date, int]] = []
    first: date | None = None
    length = rows = 0
    for day in days:
        day_rows = rows_per_day.get(day, 0)
        joins = (
            first is not None
            and day == first + timedelta(days=length)
            and day not in single
            and first not in single
            and length < max_days
            and rows + day_rows <= (max_rows if chunks or first_max_rows is None else first_max_rows)
        )
        if joins:
            length += 1
            rows += day_rows
            continue
        if first is not None:
            chunks.append((first, length))
        first, length, rows = day, 1, day_rows
    if first is not None:
        chunks.append((first, length))
    return chunks
