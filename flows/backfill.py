"""Recomputing a range of local days: chunked windows, then weeks, months and summaries once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

import polars as pl

from flows.database import WRITE_LOCK_KEY, connect
from flows.load import LoadReport, refresh_summaries, roll_up
from flows.settings import Settings
from flows.sql import load_sql
from flows.windows import Window, day_window
from transforms.periods import month_first


def day_chunks(start: date, end: date, chunk_days: int, timezone_name: str) -> Iterator[Window]:
    """Windows of `chunk_days` local days covering [start, end), the last one shorter if need be."""
    day = start
    while day < end:
        days = min(chunk_days, (end - day).days)
        yield day_window(day, timezone_name, days)
        day += timedelta(days=days)


def month_windows(start: date, end: date, timezone_name: str) -> Iterator[Window]:
    """One window per calendar month touching [start, end), each cut to [start, end)."""
    first = month_first(start)
    while first < end:
        following = month_first(first, 1)
        lo, hi = max(first, start), min(following, end)
        yield day_window(lo, timezone_name, (hi - lo).days)
        first = following


def finish_range(
    url: str,
    settings: Settings,
    start: date,
    end: date,
    items: Sequence[str],
    period_types: Sequence[str],
    as_of: datetime | None,
    on_month: Callable[[Window], None] | None = None,
) -> LoadReport:
    """Roll up the weeks and months containing [start, end) and refresh summaries, a month per transaction."""
    report = LoadReport()
    longer = [p for p in period_types if p in ("week", "month")]
    for window in month_windows(start, end, settings.timezone):
        with connect(url, settings) as conn, conn.transaction():
            conn.execute(load_sql("lock_analytics_writes"), {"lock_key": WRITE_LOCK_KEY})
            conn.execute("set local timezone = 'UTC'")
            conn.execute(load_sql("create_staging_tables"))
            hours = pl.datetime_range(window.start, window.end, "1h", closed="left", eager=True, time_zone="UTC")
            roll_up(conn, hours, list(items), longer, settings.timezone, report)
        if on_month:
            on_month(window)
    if as_of is not None and items:
        with connect(url, settings) as conn, conn.transaction():
            conn.execute(load_sql("lock_analytics_writes"), {"lock_key": WRITE_LOCK_KEY})
            conn.execute("set local timezone = 'UTC'")
            conn.execute(load_sql("create_staging_tables"))
            refresh_summaries(conn, list(items), as_of, settings.timezone, report)
    report.items = list(items)
    return report
