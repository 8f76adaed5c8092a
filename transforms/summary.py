"""Ratios of period rows and the one-row-per-item summary."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from transforms.rollups import peak_of
from transforms.schemas import UTC_TIME

ROLLING_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}

SUMMARY = pl.Schema(
    {
        "event_id": pl.String,
        "total_views": pl.Int64,
        "total_unique_views": pl.Int64,
        "total_clicks": pl.Int64,
        "total_shares": pl.Int64,
        "total_favorites": pl.Int64,
        "total_ticket_clicks": pl.Int64,
        "total_external_clicks": pl.Int64,
        "avg_time_on_page_seconds": pl.Float64,
        "bounce_rate": pl.Float64,
        "peak_hour": pl.Int64,
        "peak_day": pl.String,
        "views_24h": pl.Int64,
        "unique_views_24h": pl.Int64,
        "clicks_24h": pl.Int64,
        "views_7d": pl.Int64,
        "unique_views_7d": pl.Int64,
        "views_30d": pl.Int64,
        "unique_views_30d": pl.Int64,
        "first_view_at": UTC_TIME,
        "last_view_at": UTC_TIME,
        "as_of": UTC_TIME,
    }
)
TOTALS = {
    "total_views": "views_count",
    "total_unique_views": "unique_views_count",
    "total_clicks": "clicks_count",
    "total_shares": "shares_count",
    "total_favorites": "favorites_count",
    "total_ticket_clicks": "ticket_clicks",
    "total_external_clicks": "external_url_clicks",
}


def _rounded_ratio(numerator: pl.Expr, denominator: pl.Expr, scale: int) -> pl.Expr:
    """numerator / denominator rounded half up to 1/scale, exactly (integer arithmetic), null over zero."""
    scaled = (2 * numerator * scale + denominator) // (2 * denominator)
    return pl.when(denominator > 0).then(scaled / scale).otherwise(None)


def add_ratios(periods: pl.DataFrame) -> pl.DataFrame:
    """avg_time_on_page_seconds (2 decimals) and bounce_rate (4 decimals) from the additive parts."""
    return periods.with_columns(
        # total_ms / views / 1000 seconds, to the hundredth: scale 100 over a denominator of views * 1000.
        _rounded_ratio(pl.col("time_on_page_total_ms"), pl.col("time_on_page_views") * 1000, 100).alias("avg_time_on_page_seconds"),
        _rounded_ratio(pl.col("bounced_visits_count"), pl.col("visits_count"), 10_000).alias("bounce_rate"),
    )


def as_of_hour(as_of: datetime, timezone_name: str) -> datetime:
    """as_of truncated to the start of its local clock hour (hour rows start there)."""
    local = as_of.astimezone(ZoneInfo(timezone_name))
    return as_of - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def summarise_items(
    all_time: pl.DataFrame,
    all_time_breakdowns: pl.DataFrame,
    recent_figures: pl.DataFrame,
    as_of: datetime,
    timezone_name: str,
) -> pl.DataFrame:
    """One summary row per item of `all_time`. `recent_figures` holds each item's rolling figures,
    summed and counted over the windows ending at as_of's hour (event_id, views_/clicks_/unique_views_
    per rolling window; sql/queries/sum_recent_hours.sql and count_recent_visitors.sql)."""
    end = as_of_hour(as_of, timezone_name)
    summary = (
        add_ratios(all_time)
        .select(
            "event_id",
            *[pl.col(source).alias(name) for name, source in TOTALS.items()],
            "avg_time_on_page_seconds",
            "bounce_rate",
            "first_view_at",
            "last_view_at",
        )
        .join(recent_figures, on="event_id", how="left")
    )
    peaks = peak_of(all_time_breakdowns, "hour_of_day").join(
        peak_of(all_time_breakdowns, "weekday"), on="event_id", how="full", coalesce=True
    )
    rolling = [c for c in SUMMARY.names() if c.endswith(("_24h", "_7d", "_30d"))]
    return (
        summary.join(peaks, on="event_id", how="left")
        .with_columns(
            pl.col("hour_of_day").cast(pl.Int64).alias("peak_hour"),
            pl.col("weekday").alias("peak_day"),
            pl.lit(end).cast(UTC_TIME).alias("as_of"),
            *[pl.col(c).fill_null(0) for c in rolling],
        )
        .select(SUMMARY.names())
        .cast(SUMMARY)
        .sort("event_id")
    )
