"""Rejects raw rows the metrics cannot use, and counts them by reason."""

from __future__ import annotations

import polars as pl

# Defined where the command line can read them without loading Polars.
from transforms.bounds import EARLIEST_TIMESTAMP as EARLIEST_TIMESTAMP
from transforms.bounds import LATEST_TIMESTAMP as LATEST_TIMESTAMP
from transforms.schemas import EVENT_TYPES

# Checked in this order; a row is counted under the first reason that applies.
REJECTION_REASONS = ("missing_timestamp", "timestamp_out_of_range", "missing_item", "unknown_type")


def is_placeable(column: str = "occurred_at") -> pl.Expr:
    """Whether a timestamp lies in [EARLIEST_TIMESTAMP, LATEST_TIMESTAMP)."""
    return (pl.col(column) >= EARLIEST_TIMESTAMP) & (pl.col(column) < LATEST_TIMESTAMP)


def _rejection_reason() -> pl.Expr:
    return (
        pl.when(pl.col("occurred_at").is_null())
        .then(pl.lit("missing_timestamp"))
        .when(~is_placeable())
        .then(pl.lit("timestamp_out_of_range"))
        .when(pl.col("event_id").is_null())
        .then(pl.lit("missing_item"))
        .when(~pl.col("event_type").is_in(EVENT_TYPES) | pl.col("event_type").is_null())
        .then(pl.lit("unknown_type"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def split_rejected(raw: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Valid rows, and the number of rejected rows per reason (every reason present, zeros included)."""
    tagged = raw.with_columns(_rejection_reason().alias("_reason"))
    counts = dict.fromkeys(REJECTION_REASONS, 0)
    for reason, n in tagged.filter(pl.col("_reason").is_not_null()).group_by("_reason").len().iter_rows():
        counts[reason] = n
    return tagged.filter(pl.col("_reason").is_null()).drop("_reason"), counts
