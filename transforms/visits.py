"""Visits (runs of one visitor's rows split at inactivity gaps) and time on page per view."""

from __future__ import annotations

import polars as pl

TIME_ON_PAGE_CAP_MS = 30 * 60 * 1000
EXPLICIT_TIME_ON_PAGE_MAX_SECONDS = 86_400
# Rows with equal timestamps are ordered by every other column too, so that any input order (the
# database returns a window's rows in none in particular) gives the same visits and times.
TIE_BREAKERS = ("event_id", "event_type", "page_url", "referrer", "user_agent", "time_on_page_seconds", "age_group", "gender")


def explicit_time_on_page_ms() -> pl.Expr:
    """metadata.time_on_page_seconds as whole milliseconds when numeric and within 0..86 400, else null."""
    seconds = pl.col("time_on_page_seconds").str.strip_chars().cast(pl.Float64, strict=False)
    valid = seconds.is_finite() & (seconds >= 0) & (seconds <= EXPLICIT_TIME_ON_PAGE_MAX_SECONDS)
    return pl.when(valid).then((seconds * 1000).round(0).cast(pl.Int64)).otherwise(None)


def assign_visits(events: pl.DataFrame, gap_minutes: int) -> pl.DataFrame:
    """Add visit_seq, visit_rows and time_on_page_ms; rows without a visitor key belong to no visit."""
    ordered = events.sort(["visitor_key", "occurred_at", *TIE_BREAKERS], nulls_last=True, maintain_order=True)
    gap = pl.duration(minutes=gap_minutes)
    previous = pl.col("occurred_at").shift(1).over("visitor_key")
    starts_visit = previous.is_null() | ((pl.col("occurred_at") - previous) > gap)
    with_seq = ordered.with_columns(
        pl.when(pl.col("visitor_key").is_not_null())
        .then(starts_visit.cast(pl.Int32).cum_sum().over("visitor_key"))
        .otherwise(None)
        .alias("visit_seq")
    )
    visit = ["visitor_key", "visit_seq"]
    next_at = pl.col("occurred_at").shift(-1).over(visit)
    until_next_ms = (next_at - pl.col("occurred_at")).dt.total_microseconds() // 1000
    measured = pl.when(pl.col("visitor_key").is_not_null() & next_at.is_not_null()).then(
        pl.min_horizontal(until_next_ms, pl.lit(TIME_ON_PAGE_CAP_MS))
    )
    return with_seq.with_columns(
        pl.when(pl.col("visitor_key").is_not_null()).then(pl.len().over(visit)).otherwise(None).alias("visit_rows"),
        pl.when(pl.col("event_type") == "view")
        .then(pl.coalesce(explicit_time_on_page_ms(), measured))
        .otherwise(None)
        .cast(pl.Int64)
        .alias("time_on_page_ms"),
    )


def visits_by_item(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (visit, item viewed in it): when the item was first viewed, and whether the visit bounced."""
    return (
        events.filter((pl.col("event_type") == "view") & pl.col("visitor_key").is_not_null())
        .group_by("visitor_key", "visit_seq", "event_id")
        .agg(
            pl.col("occurred_at").min().alias("first_view_at"),
            (pl.col("visit_rows").first() == 1).alias("bounced"),
        )
    )
