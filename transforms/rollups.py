"""Days, ISO weeks, months and all time, summed exactly from hour rows (uniques from visitor-hours)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import polars as pl

from transforms.metrics import ADDITIVE_COLUMNS, BREAKDOWNS, PERIOD_METRICS
from transforms.periods import ALL_TIME_START, WEEKDAYS, period_bounds

HISTOGRAM_DIMENSIONS = ("hour_of_day", "weekday")
# What the database knows about an item over all time, besides sums: exact all-time uniques
# (event_analytics_visitors), first and last view and the end of its last hour (hour rows).
ALL_TIME_FACTS = pl.Schema(
    {
        "event_id": pl.String,
        "unique_views_count": pl.Int64,
        "first_view_at": PERIOD_METRICS["first_view_at"],
        "last_view_at": PERIOD_METRICS["last_view_at"],
        "period_end": PERIOD_METRICS["period_end"],
    }
)


def roll_up_periods(
    hours: pl.DataFrame,
    hour_breakdowns: pl.DataFrame,
    visitor_hours: pl.DataFrame,
    period_type: str,
    timezone_name: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Period rows and breakdowns of one type from every hour row (or every day row, for weeks and
    months) of the periods they cover; uniques always from visitor-hours."""
    periods = with_uniques(
        sum_periods(hours, period_type, timezone_name), count_uniques(visitor_hours, period_type, timezone_name), period_type
    )
    return periods, sum_breakdowns(hour_breakdowns, period_type, timezone_name)


def sum_periods(rows: pl.DataFrame, period_type: str, timezone_name: str) -> pl.DataFrame:
    """Additive columns, first and last view of each period of `period_type` containing the rows
    (hour rows, or day rows for weeks and months), keyed by event_id, period_start, period_end."""
    keys = ["event_id", "period_start", "period_end"]
    placed = period_bounds(rows.drop("period_end").rename({"period_start": "_hour"}), period_type, timezone_name, "_hour")
    return placed.group_by(keys).agg(
        *[pl.col(c).sum() for c in ADDITIVE_COLUMNS],
        pl.col("first_view_at").min(),
        pl.col("last_view_at").max(),
    )


def count_uniques(visitor_hours: pl.DataFrame, period_type: str, timezone_name: str) -> pl.DataFrame:
    """Exact unique visitors of each (item, period of `period_type`) from visitor-hours."""
    return (
        period_bounds(visitor_hours, period_type, timezone_name, "hour_start")
        .group_by("event_id", "period_start")
        .agg(pl.col("visitor_key").n_unique().cast(pl.Int64).alias("unique_views_count"))
    )


def with_uniques(sums: pl.DataFrame, uniques: pl.DataFrame, period_type: str) -> pl.DataFrame:
    """Period rows of `period_type` from sum_periods and unique counts keyed by event_id, period_start."""
    return (
        sums.join(uniques.select("event_id", "period_start", "unique_views_count"), on=["event_id", "period_start"], how="left")
        .with_columns(pl.lit(period_type).alias("period_type"), pl.col("unique_views_count").fill_null(0))
        .select(PERIOD_METRICS.names())
        .cast(PERIOD_METRICS)
        .sort("event_id", "period_start")
    )


def sum_breakdowns(breakdowns: pl.DataFrame, period_type: str, timezone_name: str) -> pl.DataFrame:
    """Breakdown rows of the periods of `period_type` containing the given (hour or day) breakdown rows."""
    return (
        period_bounds(breakdowns.rename({"period_start": "_hour"}), period_type, timezone_name, "_hour")
        .group_by("event_id", "period_start", "dimension", "key")
        .agg(pl.col("views").sum())
        .with_columns(pl.lit(period_type).alias("period_type"))
        .select(BREAKDOWNS.names())
        .cast(BREAKDOWNS)
        .sort("event_id", "period_start", "dimension", "key")
    )


def period_spans(hour_starts: pl.Series, period_type: str, timezone_name: str) -> pl.DataFrame:
    """The distinct periods of `period_type` (period_start, period_end) containing the given hours."""
    frame = hour_starts.to_frame("hour_start")
    return period_bounds(frame, period_type, timezone_name).select("period_start", "period_end").unique().sort("period_start")


def hours_of_periods_from(hour_starts: pl.Series, period_type: str, timezone_name: str, start: datetime) -> pl.Series:
    """The hours whose period of `period_type` starts at or after `start`. Consecutive windows that
    each roll up only the periods starting in them (the first one: every period it touches) roll up
    a period crossing from one window into the next once, not once per window."""
    frame = period_bounds(hour_starts.to_frame("hour_start"), period_type, timezone_name)
    return frame.filter(pl.col("period_start") >= start).get_column("hour_start")


def period_span(hour_starts: pl.Series, period_type: str, timezone_name: str) -> tuple[datetime, datetime] | None:
    """The first start and last end of the periods of a type that contain the given hours."""
    if hour_starts.is_empty():
        return None
    spans = period_spans(hour_starts, period_type, timezone_name)
    return spans["period_start"].min(), spans["period_end"].max()


def moved_uniques(items: Sequence[str], all_time: pl.DataFrame, gained: Mapping[str, int], lost: Mapping[str, int]) -> pl.DataFrame:
    """All-time unique views of `items` after a write: the stored all_time rows' counts (0 where
    none), plus the visitors each item gained, minus those it lost (event_analytics_visitors)."""
    stored = dict(all_time.select("event_id", "unique_views_count").iter_rows())
    counts = [stored.get(item, 0) + gained.get(item, 0) - lost.get(item, 0) for item in items]
    return pl.DataFrame(
        {"event_id": list(items), "unique_views_count": counts}, schema={"event_id": pl.String, "unique_views_count": pl.Int64}
    )


def histogram_breakdowns(hours: pl.DataFrame, timezone_name: str) -> pl.DataFrame:
    """Views by local hour of day and by weekday, as all_time breakdown rows."""
    local = pl.col("period_start").dt.convert_time_zone(timezone_name)
    viewed = hours.filter(pl.col("views_count") > 0)
    by_hour = viewed.select(
        "event_id",
        pl.lit("hour_of_day").alias("dimension"),
        local.dt.hour().cast(pl.String).alias("key"),
        pl.col("views_count").alias("views"),
    )
    by_day = viewed.select(
        "event_id",
        pl.lit("weekday").alias("dimension"),
        local.dt.weekday().replace_strict(list(range(1, 8)), list(WEEKDAYS), return_dtype=pl.String).alias("key"),
        pl.col("views_count").alias("views"),
    )
    return (
        pl.concat([by_hour, by_day])
        .with_columns(
            pl.lit("all_time").alias("period_type"), pl.lit(ALL_TIME_START).cast(BREAKDOWNS["period_start"]).alias("period_start")
        )
        .select(BREAKDOWNS.names())
        .cast(BREAKDOWNS)
    )


def advance_all_time(
    all_time: pl.DataFrame,
    all_time_breakdowns: pl.DataFrame,
    removed: tuple[pl.DataFrame, pl.DataFrame],
    added: tuple[pl.DataFrame, pl.DataFrame],
    timezone_name: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All-time sums after replacing the `removed` hour rows and breakdowns by the `added` ones.

    Returns per-item additive sums and all_time breakdowns (histograms included), for the items
    of any input; the non-additive columns are filled by complete_all_time.
    """
    removed_hours, removed_breakdowns = removed
    added_hours, added_breakdowns = added
    signed = [(all_time, 1), (added_hours, 1), (removed_hours, -1)]
    sums = (
        pl.concat([frame.select("event_id", *[(pl.col(c) * sign).alias(c) for c in ADDITIVE_COLUMNS]) for frame, sign in signed])
        .group_by("event_id")
        .agg(pl.col(c).sum() for c in ADDITIVE_COLUMNS)
    )

    def rows(frame: pl.DataFrame, sign: int, hourly: pl.DataFrame | None) -> list[pl.DataFrame]:
        parts = [frame.select("event_id", "dimension", "key", (pl.col("views") * sign).alias("views"))]
        if hourly is not None:
            parts.append(
                histogram_breakdowns(hourly, timezone_name).select("event_id", "dimension", "key", (pl.col("views") * sign).alias("views"))
            )
        return parts

    breakdowns = (
        pl.concat(
            [*rows(all_time_breakdowns, 1, None), *rows(added_breakdowns, 1, added_hours), *rows(removed_breakdowns, -1, removed_hours)]
        )
        .group_by("event_id", "dimension", "key")
        .agg(pl.col("views").sum())
        .filter(pl.col("views") != 0)
        .with_columns(
            pl.lit("all_time").alias("period_type"), pl.lit(ALL_TIME_START).cast(BREAKDOWNS["period_start"]).alias("period_start")
        )
        .select(BREAKDOWNS.names())
        .cast(BREAKDOWNS)
        .sort("event_id", "dimension", "key")
    )
    return sums.sort("event_id"), breakdowns


def complete_all_time(sums: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """all_time rows from additive sums and the facts only the database holds (see ALL_TIME_FACTS)."""
    return (
        sums.join(facts, on="event_id", how="left")
        .with_columns(
            pl.lit("all_time").alias("period_type"),
            pl.lit(ALL_TIME_START).cast(PERIOD_METRICS["period_start"]).alias("period_start"),
            pl.col("unique_views_count").fill_null(0),
        )
        .select(PERIOD_METRICS.names())
        .cast(PERIOD_METRICS)
        .sort("event_id")
    )


def peak_of(breakdowns: pl.DataFrame, dimension: str) -> pl.DataFrame:
    """Per item, the key of `dimension` with the most views; ties go to the first in calendar order."""
    if dimension == "hour_of_day":
        order = pl.col("key").cast(pl.Int64)
    else:
        order = pl.col("key").replace_strict(list(WEEKDAYS), list(range(7)), default=99, return_dtype=pl.Int64)
    return (
        breakdowns.filter((pl.col("dimension") == dimension) & (pl.col("views") > 0))
        .sort("event_id", pl.col("views"), order, descending=[False, True, False])
        .group_by("event_id", maintain_order=True)
        .first()
        .select("event_id", pl.col("key").alias(dimension))
    )
