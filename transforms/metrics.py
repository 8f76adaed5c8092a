"""Per-item metrics of local clock hours: the atoms every longer period is summed from."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.periods import hour_start
from transforms.schemas import UTC_TIME
from transforms.text import storable_key
from transforms.visits import visits_by_item

# One row per (item, period): counts and the additive parts of the ratios.
PERIOD_METRICS = pl.Schema(
    {
        "event_id": pl.String,
        "period_type": pl.String,
        "period_start": UTC_TIME,
        "period_end": UTC_TIME,
        "views_count": pl.Int64,
        "unique_views_count": pl.Int64,
        "clicks_count": pl.Int64,
        "shares_count": pl.Int64,
        "favorites_count": pl.Int64,
        "ticket_clicks": pl.Int64,
        "external_url_clicks": pl.Int64,
        "visits_count": pl.Int64,
        "bounced_visits_count": pl.Int64,
        "time_on_page_total_ms": pl.Int64,
        "time_on_page_views": pl.Int64,
        "first_view_at": UTC_TIME,
        "last_view_at": UTC_TIME,
    }
)
ADDITIVE_COLUMNS = (
    "views_count",
    "clicks_count",
    "shares_count",
    "favorites_count",
    "ticket_clicks",
    "external_url_clicks",
    "visits_count",
    "bounced_visits_count",
    "time_on_page_total_ms",
    "time_on_page_views",
)
COUNTED_TYPES = {
    "views_count": "view",
    "clicks_count": "click",
    "shares_count": "share",
    "favorites_count": "favorite",
    "ticket_clicks": "ticket_click",
    "external_url_clicks": "external_click",
}

# Views of one item and period split by one dimension (traffic_sources, device_types, age_groups, genders).
BREAKDOWNS = pl.Schema(
    {
        "event_id": pl.String,
        "period_type": pl.String,
        "period_start": UTC_TIME,
        "dimension": pl.String,
        "key": pl.String,
        "views": pl.Int64,
    }
)
BREAKDOWN_COLUMNS = {
    "traffic_sources": "traffic_source",
    "device_types": "device_type",
    "age_groups": "age_group",
    "genders": "gender",
}

# Distinct visitors who viewed an item in a local clock hour.
VISITOR_HOURS = pl.Schema({"event_id": pl.String, "hour_start": UTC_TIME, "visitor_key": pl.String})


def _in_window(column: str, start: datetime, end: datetime) -> pl.Expr:
    return (pl.col(column) >= start) & (pl.col(column) < end)


def measure_hours(
    events: pl.DataFrame, timezone_name: str, window_start: datetime, window_end: datetime
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Hour rows, hour breakdowns and visitor-hours of the local hours in [window_start, window_end).

    `events` are valid, non-bot rows with visits assigned (see visits.assign_visits), and may reach
    beyond the window on both sides: those rows only give visits their context.
    """
    hourly = events.with_columns(hour_start(("occurred_at"), timezone_name).alias("period_start"))
    inside = hourly.filter(_in_window("period_start", window_start, window_end))
    is_view = pl.col("event_type") == "view"
    keys = ["event_id", "period_start"]

    counts = inside.group_by(keys).agg(
        *[(pl.col("event_type") == kind).sum().cast(pl.Int64).alias(name) for name, kind in COUNTED_TYPES.items()],
        pl.col("visitor_key").filter(is_view & pl.col("visitor_key").is_not_null()).n_unique().cast(pl.Int64).alias("unique_views_count"),
        pl.col("time_on_page_ms").sum().cast(pl.Int64).alias("time_on_page_total_ms"),
        pl.col("time_on_page_ms").is_not_null().sum().cast(pl.Int64).alias("time_on_page_views"),
        pl.col("occurred_at").filter(is_view).min().alias("first_view_at"),
        pl.col("occurred_at").filter(is_view).max().alias("last_view_at"),
    )
    visits = (
        visits_by_item(hourly)
        .with_columns(hour_start("first_view_at", timezone_name).alias("period_start"))
        .filter(_in_window("period_start", window_start, window_end))
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("visits_count"),
            pl.col("bounced").sum().cast(pl.Int64).alias("bounced_visits_count"),
        )
    )
    hours = (
        counts.join(visits, on=keys, how="full", coalesce=True)
        .with_columns(
            pl.lit("hour").alias("period_type"),
            (pl.col("period_start") + pl.duration(hours=1)).alias("period_end"),
            *[pl.col(c).fill_null(0) for c in (*ADDITIVE_COLUMNS, "unique_views_count")],
        )
        .select(PERIOD_METRICS.names())
        .cast(PERIOD_METRICS)
        .sort(keys)
    )

    views = inside.filter(is_view)
    breakdowns = (
        pl.concat(
            [
                views.filter(pl.col(column).is_not_null())
                # Every key comes from raw text (metadata, hosts, utm_source): one PostgreSQL cannot
                # store counts as `other` rather than failing the window's jsonb.
                .group_by(*keys, storable_key(column).alias("key"))
                .agg(pl.len().cast(pl.Int64).alias("views"))
                .with_columns(pl.lit(dimension).alias("dimension"))
                for dimension, column in BREAKDOWN_COLUMNS.items()
                if column in views.columns
            ]
            or [pl.DataFrame(schema=BREAKDOWNS)],
            how="diagonal",
        )
        .with_columns(pl.lit("hour").alias("period_type"))
        .select(BREAKDOWNS.names())
        .cast(BREAKDOWNS)
        .sort(["event_id", "period_start", "dimension", "key"])
    )

    visitor_hours = (
        views.filter(pl.col("visitor_key").is_not_null())
        .select("event_id", pl.col("period_start").alias("hour_start"), "visitor_key")
        .unique()
        .cast(VISITOR_HOURS)
        .sort(VISITOR_HOURS.names())
    )
    return hours, breakdowns, visitor_hours
