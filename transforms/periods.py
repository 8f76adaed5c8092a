"""Local clock hours, days, ISO weeks and months as UTC instants, DST-correct in one IANA zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from transforms.schemas import UTC_TIME

PERIOD_TYPES = ("hour", "day", "week", "month")
ALL_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

CALENDAR = pl.Schema(
    {
        "local_date": pl.Date,
        "day_start": UTC_TIME,
        "day_end": UTC_TIME,
        "week_start": UTC_TIME,
        "week_end": UTC_TIME,
        "month_start": UTC_TIME,
        "month_end": UTC_TIME,
    }
)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local date starts at (the first instant of that date, across DST gaps)."""
    naive = datetime.combine(day, time())
    # fold=0 gives the earlier of two ambiguous instants; a skipped midnight resolves forward.
    local = naive.replace(tzinfo=zone)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).date() != day:  # midnight skipped by a DST jump: the day starts at 01:00
        utc = (naive + timedelta(hours=1)).replace(tzinfo=zone).astimezone(UTC)
    return utc


def month_first(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def build_calendar(dates: pl.Series | list[date], timezone_name: str) -> pl.DataFrame:
    """Day, ISO-week and month bounds for each distinct local date."""
    zone = ZoneInfo(timezone_name)
    rows = []
    for day in sorted(set(pl.Series(dates, dtype=pl.Date).drop_nulls().to_list())):
        monday = day - timedelta(days=day.weekday())
        rows.append(
            (
                day,
                local_midnight(day, zone),
                local_midnight(day + timedelta(days=1), zone),
                local_midnight(monday, zone),
                local_midnight(monday + timedelta(days=7), zone),
                local_midnight(month_first(day), zone),
                local_midnight(month_first(day, 1), zone),
            )
        )
    return pl.DataFrame(rows, schema=CALENDAR, orient="row")


def hour_start(column: str, timezone_name: str) -> pl.Expr:
    """Start of the local clock hour containing each instant (zones with 30/45-minute offsets too)."""
    local = pl.col(column).dt.convert_time_zone(timezone_name)
    into_hour = (
        local.dt.minute().cast(pl.Int64) * 60_000_000 + local.dt.second().cast(pl.Int64) * 1_000_000 + local.dt.microsecond().cast(pl.Int64)
    )
    return pl.col(column) - pl.duration(microseconds=into_hour)


def local_date(column: str, timezone_name: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(timezone_name).dt.date()


def period_bounds(frame: pl.DataFrame, period_type: str, timezone_name: str, hour_column: str = "hour_start") -> pl.DataFrame:
    """Add period_start and period_end of the given type for each row's local hour."""
    if period_type == "hour":
        return frame.with_columns(
            pl.col(hour_column).alias("period_start"),
            (pl.col(hour_column) + pl.duration(hours=1)).alias("period_end"),
        )
    dated = frame.with_columns(local_date(hour_column, timezone_name).alias("_local_date"))
    calendar = build_calendar(dated.get_column("_local_date").unique(), timezone_name)
    bounds = calendar.select(
        pl.col("local_date").alias("_local_date"),
        pl.col(f"{period_type}_start").alias("period_start"),
        pl.col(f"{period_type}_end").alias("period_end"),
    )
    return dated.join(bounds, on="_local_date", how="left").drop("_local_date")
