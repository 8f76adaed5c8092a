"""Visits (runs of one visitor's rows split at inactivity gaps) and time on page per view."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import polars as pl

TIME_ON_PAGE_CAP_MS = 30 * 60 * 1000
EXPLICIT_TIME_ON_PAGE_MAX_SECONDS = 86_400
# Rows with equal timestamps are ordered by every other column too, so that any input order (the
# database returns a window's rows in none in particular) gives the same visits and times.
TIE_BREAKERS = ("event_id", "event_type", "page_url", "referrer", "user_agent", "time_on_page_seconds", "age_group", "gender")


def explicit_time_on_page_ms(values: pl.Series) -> pl.Expr:
    """metadata.time_on_page_seconds as whole milliseconds, truncated, when numeric and within 0..86 400, else null."""
    distinct = values.drop_nulls().unique()
    seconds = distinct.str.strip_chars().cast(pl.Float64, strict=False)
    valid = distinct.filter(seconds.is_finite() & (seconds >= 0) & (seconds <= EXPLICIT_TIME_ON_PAGE_MAX_SECONDS))
    # Truncated from the decimal text, never through a float: 2.3 s is 2 300 ms, where 2.3 * 1000 in
    # floating point is 2 299.999…; a 60-digit context keeps every plausible text exact.
    with localcontext(Context(prec=60)):
        milliseconds = [int(Decimal(text.strip()).scaleb(3)) for text in valid.to_list()]
    return pl.col("time_on_page_seconds").replace_strict(
        valid, pl.Series(milliseconds, dtype=pl.Int64), default=None, return_dtype=pl.Int64
    )


def assign_visits(events: pl.DataFrame, gap_minutes: int) -> pl.DataFrame:
    """Add visit_seq (a visit's id within this frame), visit_rows and time_on_page_ms; rows without a
    visitor key belong to no visit."""
    by = ["visitor_key", "occurred_at"]
    if events.select(pl.struct(*by).is_duplicated().any()).item():
        # Rows of one visitor at the same instant: ordered by every other column too. One hash of
        # the tie-breakers sorts far faster than eight string columns, and orders ties the same way
        # every run. Without ties the two keys fix the order alone, and the sort skips the hash (77
        # against 136 ms for a 200,000-row chunk; bench/README.md, seventh pass).
        events = events.with_columns(pl.struct([pl.col(c) for c in TIE_BREAKERS if c in events.columns]).hash(seed=0).alias("_tie"))
        by.append("_tie")
    ordered = events.sort(by, nulls_last=True, maintain_order=True).drop("_tie", strict=False)
    # Sorted by visitor, a visit starts wherever the visitor changes or the gap is too long: plain
    # shifts over the whole frame, no grouping by the string key.
    keyed = pl.col("visitor_key").is_not_null()
    same_visitor = keyed & (pl.col("visitor_key") == pl.col("visitor_key").shift(1)).fill_null(False)
    gap = pl.duration(minutes=gap_minutes)
    within_gap = (pl.col("occurred_at") - pl.col("occurred_at").shift(1)) <= gap
    with_ids = ordered.with_columns((~(same_visitor & within_gap.fill_null(False))).cum_sum().alias("_visit"))
    same_visit_next = pl.col("_visit").shift(-1) == pl.col("_visit")
    until_next_ms = (pl.col("occurred_at").shift(-1) - pl.col("occurred_at")).dt.total_microseconds() // 1000
    measured = pl.when(keyed & same_visit_next.fill_null(False)).then(pl.min_horizontal(until_next_ms, pl.lit(TIME_ON_PAGE_CAP_MS)))
    return with_ids.with_columns(
        # Unique within this frame, not numbered per visitor: only ever used to group a visit's rows.
        pl.when(keyed).then(pl.col("_visit")).otherwise(None).cast(pl.Int64).alias("visit_seq"),
        pl.when(keyed).then(pl.len().over("_visit")).otherwise(None).alias("visit_rows"),
        pl.when(pl.col("event_type") == "view")
        .then(pl.coalesce(explicit_time_on_page_ms(events.get_column("time_on_page_seconds")), measured))
        .otherwise(None)
        .cast(pl.Int64)
        .alias("time_on_page_ms"),
    ).drop("_visit")


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


def visitors_reaching(events: pl.DataFrame, edge, window_start, gap_minutes: int) -> pl.Series:
    """Visitor keys whose first visit in `events` begins within one gap of `edge` and lasts into the
    window: that visit may have begun before `edge`, and earlier rows could change it.

    `events` are valid, non-bot rows from `edge` on.
    """
    visits = (
        assign_visits(events.filter(pl.col("visitor_key").is_not_null()), gap_minutes)
        .group_by("visitor_key", "visit_seq")
        .agg(pl.col("occurred_at").min().alias("first_at"), pl.col("occurred_at").max().alias("last_at"))
    )
    return (
        visits.filter((pl.col("first_at") <= edge + pl.duration(minutes=gap_minutes)) & (pl.col("last_at") >= window_start))
        .get_column("visitor_key")
        .unique()
        .sort()
    )
