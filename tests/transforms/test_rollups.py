"""The pure parts of a write: which periods a window's hours touch, and how all-time uniques move."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from transforms.pipeline import HourResult
from transforms.rollups import hours_of_periods_from, moved_uniques, period_span

PARIS = "Europe/Paris"


def hours(start: datetime, end: datetime) -> pl.Series:
    return pl.datetime_range(start, end, "1h", closed="left", eager=True, time_zone="UTC")


def test_period_span_covers_every_local_period_the_hours_touch() -> None:
    # 2026-10-25 is a 25-hour day in Paris (CEST to CET); the window's UTC hours start at
    # local 2026-10-24 23:00 and end at local 2026-10-26 00:00.
    window = hours(datetime(2026, 10, 24, 21, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    assert period_span(window, "day", PARIS) == (datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    # ISO weeks: Monday 2026-10-19 to Monday 2026-10-26, local midnight each.
    assert period_span(window, "week", PARIS) == (datetime(2026, 10, 18, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC))
    assert period_span(window, "month", PARIS) == (datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))
    assert period_span(hours(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)), "day", PARIS) is None


def test_hours_of_periods_from_keeps_the_hours_of_the_periods_starting_at_or_after_the_start() -> None:
    # October 2026 in Paris: local 2026-10-01 00:00 is 2026-09-30 22:00 UTC. The week of Monday
    # 2026-09-28 started in September: its October hours are left to September's window.
    october = hours(datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))
    own = hours_of_periods_from(october, "week", PARIS, datetime(2026, 9, 30, 22, tzinfo=UTC))
    # The first week starting in October: Monday 2026-10-05, local midnight.
    assert own.min() == datetime(2026, 10, 4, 22, tzinfo=UTC)
    assert own.max() == october.max()
    assert own.len() == october.filter(october >= datetime(2026, 10, 4, 22, tzinfo=UTC)).len()
    assert period_span(own, "week", PARIS) == (datetime(2026, 10, 4, 22, tzinfo=UTC), datetime(2026, 11, 1, 23, tzinfo=UTC))
    # Months start where the window starts: every hour is kept.
    assert hours_of_periods_from(october, "month", PARIS, datetime(2026, 9, 30, 22, tzinfo=UTC)).len() == october.len()


def test_moved_uniques_add_gained_and_take_lost_visitors_from_the_stored_count() -> None:
    stored = pl.DataFrame({"event_id": ["a", "b"], "unique_views_count": [10, 4]})
    moved = moved_uniques(["a", "b", "c"], stored, gained={"a": 3, "c": 2}, lost={"a": 1, "b": 4})
    assert moved.rows() == [("a", 12), ("b", 0), ("c", 2)]
    assert moved.schema == pl.Schema({"event_id": pl.String, "unique_views_count": pl.Int64})


def test_hour_result_only_keeps_the_items_asked_for() -> None:
    frame = pl.DataFrame({"event_id": ["a", "b", "a"], "x": [1, 2, 3]})
    result = HourResult(frame, frame, frame, {"rows_read": 3})
    assert result.only(None) is result
    kept = result.only(["a"])
    assert kept.hours["x"].to_list() == kept.breakdowns["x"].to_list() == kept.visitor_hours["x"].to_list() == [1, 3]
    assert kept.report == {"rows_read": 3}
