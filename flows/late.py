"""Late rows of any age: find the local hours that received rows since the last hourly run, recompute them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.database import Database
from flows.sql import load_sql
from flows.window import WindowReport, process_window
from flows.windows import Window
from transforms.lateness import late_local_hours, local_hour_of, recompute_windows

# Hours recomputed per hourly run at most (before their neighbours are added); the rest wait for the next run.
MAX_LATE_HOURS_PER_RUN = 48


def record_late_rows(conn: psycopg.Connection, timezone_name: str) -> dict[str, Any]:
    """Queue the local hours of the rows committed since the watermark and move it; the first call only sets it."""
    with conn.transaction():
        watermark = conn.execute(load_sql("lock_late_rows_watermark")).fetchone()
        position, in_progress, queued_at = conn.execute(load_sql("read_snapshot")).fetchone()
        next_watermark = {"position": position, "in_progress": in_progress}
        if watermark is None:
            # Rows already there are history, for backfills: late rows are the ones that arrive from now on.
            conn.execute(load_sql("set_late_rows_watermark"), next_watermark)
            return {"late_rows": 0, "late_hours_found": 0, "queued_at": queued_at}
        found = conn.execute(load_sql("find_late_rows"), {"position": watermark[0], "in_progress": watermark[1]}).fetchall()
        zone = ZoneInfo(timezone_name)
        rows_by_hour = dict.fromkeys(late_local_hours([hour for hour, _ in found], timezone_name), 0)
        for hour, rows in found:
            rows_by_hour[local_hour_of(hour, zone)] += rows
        if rows_by_hour:
            conn.execute(load_sql("add_late_hours"), {"hours": list(rows_by_hour), "rows": list(rows_by_hour.values())})
        conn.execute(load_sql("set_late_rows_watermark"), next_watermark)
    return {"late_rows": sum(rows for _, rows in found), "late_hours_found": len(rows_by_hour), "queued_at": queued_at}


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def find_late_rows(db: Database) -> dict[str, Any]:
    """Queue the local hours that received rows since the last run, whatever their age."""
    with db.connect() as conn:
        return record_late_rows(conn, db.settings.timezone)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def take_late_hours(db: Database, covered: Window, taken_at: datetime) -> tuple[list[datetime], int, tuple[int, int]]:
    """Up to MAX_LATE_HOURS_PER_RUN queued hours, oldest first, and how many were queued; hours the
    run's own window recomputed (its rows were read after they were queued) leave the queue, and
    how many hours and rows those were."""
    with db.connect() as conn:
        in_window = conn.execute(
            load_sql("delete_late_hours"), {"start": covered.start, "end": covered.end, "taken_at": taken_at}
        ).fetchone()
        rows = conn.execute(load_sql("read_late_hours"), {"limit": MAX_LATE_HOURS_PER_RUN}).fetchall()
    return [row[0].astimezone(UTC) for row in rows], (rows[0][1] if rows else 0), (in_window[0], in_window[1])


def recompute_late_window(db: Database, window: Window, as_of: datetime, taken_at: datetime) -> WindowReport:
    """Recompute a late window like any other (flows/window.py), taking its hours off the queue in the same transaction."""

    def unqueue(conn: psycopg.Connection, _: WindowReport) -> None:
        conn.execute(load_sql("delete_late_hours"), {"start": window.start, "end": window.end, "taken_at": taken_at})

    return process_window(db, window, roll_up_types=["day", "week", "month"], as_of=as_of, record=unqueue)


late_window_task = task(name="late_window", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE)(
    recompute_late_window
)


def catch_up_late_rows(
    db: Database,
    window: Window,
    as_of: datetime,
    found: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """Recompute the queued late hours outside the run's window (hours, then their days, weeks, months,
    all-time rows and summaries), a contiguous window per transaction that also takes them off the queue."""
    queued_at = found["queued_at"]
    hours, pending, (window_hours, window_rows) = take_late_hours(db, window, queued_at)
    neighbours = math.ceil(db.settings.visit_gap_minutes / 60)
    # New rows inside the run's own window are on time, not late.
    figures: dict[str, Any] = {
        "late_rows": max(found["late_rows"] - window_rows, 0),
        "late_hours_found": max(found["late_hours_found"] - window_hours, 0),
        "late_hours_pending": pending,
        "late_hours_recomputed": len(hours),
        "late_windows": [],
    }
    items: set[str] = set()
    for start, end in recompute_windows(hours, neighbours):
        late_window = Window(start, end, db.settings.timezone)
        loaded = late_window_task(db, late_window, as_of, queued_at)
        figures["late_windows"].append(
            {"window": late_window.label("range"), "rows_read": loaded.rows_read, "items_touched": len(loaded.items)}
        )
        items.update(loaded.items)
    figures["late_hours_left"] = pending - len(hours)
    return figures, sorted(items)
