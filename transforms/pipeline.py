"""Raw rows of a window (with context around it) to hour rows, breakdowns, visitor-hours and a report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from transforms.devices import add_device_classes
from transforms.metrics import measure_hours
from transforms.sources import classify_traffic_sources
from transforms.text import storable_visitor_keys
from transforms.validation import split_rejected
from transforms.visits import assign_visits


@dataclass(frozen=True)
class MetricConfig:
    """The plain values the metric definitions depend on."""

    timezone: str = "UTC"
    visit_gap_minutes: int = 30
    bot_patterns: tuple[str, ...] = ()
    known_sources: tuple[tuple[str, str], ...] = ()
    site_hosts: tuple[str, ...] = ()


@dataclass
class HourResult:
    """What one window yields: hour rows, their breakdowns, visitor-hours, and what was read."""

    hours: pl.DataFrame
    breakdowns: pl.DataFrame
    visitor_hours: pl.DataFrame
    report: dict[str, object] = field(default_factory=dict)

    def only(self, items: Sequence[str] | None) -> HourResult:
        """The part of the window that concerns `items` (all of it when None)."""
        if items is None:
            return self
        keep = pl.col("event_id").is_in(list(items))
        return HourResult(self.hours.filter(keep), self.breakdowns.filter(keep), self.visitor_hours.filter(keep), self.report)


def countable_rows(raw: pl.DataFrame, config: MetricConfig) -> pl.DataFrame:
    """The rows visits are made of: valid and not from a bot."""
    valid, _ = split_rejected(raw)
    return add_device_classes(valid, config.bot_patterns).filter(~pl.col("is_bot")).drop("device_type", "is_bot")


def compute_hours(raw: pl.DataFrame, window_start: datetime, window_end: datetime, config: MetricConfig) -> HourResult:
    """Compute the local hours of [window_start, window_end) from raw rows that may reach beyond it."""
    valid, _ = split_rejected(raw)
    # Visitor keys are stored (visitor tables) and compared across runs, so they are made storable
    # before visits and uniques use them; countable_rows keeps raw keys, which extraction matches.
    valid = storable_visitor_keys(valid)
    inside = (pl.col("occurred_at") >= window_start) & (pl.col("occurred_at") < window_end)
    # Only rows inside the window are reported: context rows belong to the neighbouring windows.
    _, rejected = split_rejected(raw.filter(inside))
    classified = add_device_classes(valid, config.bot_patterns)
    humans = classified.filter(~pl.col("is_bot"))
    sourced = classify_traffic_sources(humans, config.known_sources, config.site_hosts)
    visited = assign_visits(sourced, config.visit_gap_minutes)
    hours, breakdowns, visitor_hours = measure_hours(visited, config.timezone, window_start, window_end)
    report = {
        "rows_read": raw.filter(inside).height,
        "rows_rejected": rejected,
        "bot_rows": classified.filter(pl.col("is_bot") & inside).height,
        "rows_counted": humans.filter(inside).height,
        "items": hours.get_column("event_id").n_unique(),
    }
    return HourResult(hours, breakdowns, visitor_hours, report)
