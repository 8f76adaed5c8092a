"""The hourly and daily Prefect flows: extract, compute, load, report."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from data.reference import load_bot_patterns, load_known_sources
from flows.database import connect, require_migrated, resolve_database_url
from flows.extract import extract_with_visit_context
from flows.late import catch_up_late_rows, find_late_rows
from flows.load import LoadReport, write_window
from flows.parameters import check_as_of, check_lookback_hours
from flows.report import describe_counts, publish_run_report
from flows.settings import Settings, load_settings
from flows.sql import load_sql
from flows.windows import Window, day_window, ensure_utc, hourly_window, previous_day
from transforms.pipeline import HourResult, MetricConfig, compute_hours
from transforms.validation import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

# Rows this long before and after a window are read too, so that visits crossing its edges are
# whole; visits still going at the lower edge are followed further back (extract_with_visit_context).
VISIT_CONTEXT = timedelta(hours=2)


def metric_config(settings: Settings) -> MetricConfig:
    return MetricConfig(
        timezone=settings.timezone,
        visit_gap_minutes=settings.visit_gap_minutes,
        bot_patterns=load_bot_patterns(),
        known_sources=load_known_sources(),
        site_hosts=settings.site_hosts,
    )


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE)
def extract_window(url: str, window: Window, settings: Settings) -> pl.DataFrame:
    """Raw rows of the window and of the visit context around it."""
    rows, _ = extract_with_visit_context(url, settings, window.start, window.end, VISIT_CONTEXT, metric_config(settings))
    return rows


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE)
def load_window(
    url: str, result: HourResult, window: Window, settings: Settings, roll_up_types: Sequence[str], as_of: datetime | None
) -> LoadReport:
    """Write the window in one transaction (retried whole: a failed attempt leaves nothing behind)."""
    with connect(url, settings) as conn:
        return write_window(
            conn, result, window.start, window.end, timezone_name=settings.timezone, roll_up_types=roll_up_types, as_of=as_of
        )


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=600, cache_policy=NO_CACHE)
def refresh_top_events(url: str, settings: Settings) -> None:
    """Refresh the plan's event_analytics_top_events view without blocking its readers."""
    with connect(url, settings) as conn:
        conn.execute(load_sql("refresh_top_events"))


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def prepare_database(settings: Settings) -> tuple[str, dict[str, int]]:
    """The database URL, after checking the schema is migrated; and rows no window can hold, by reason."""
    url = resolve_database_url(settings)
    with connect(url, settings) as conn:
        require_migrated(conn)
        bounds = {"earliest": EARLIEST_TIMESTAMP, "latest": LATEST_TIMESTAMP}
        without_timestamp, out_of_range = conn.execute(load_sql("count_rows_without_timestamp"), bounds).fetchone()
    return url, {"missing_timestamp": without_timestamp, "timestamp_out_of_range": out_of_range}


def summarise_figures(figures: dict[str, Any]) -> str:
    """One log line: what was read, left out and written."""
    rejected = sum(figures["rows_rejected"].values())
    reasons = f" ({describe_counts(figures['rows_rejected'])})" if rejected else ""
    seconds = figures["seconds"]
    stages = ", ".join(f"{stage} {value:.2f}" for stage, value in seconds.items())
    return (
        f"read {figures['rows_read']:,} rows, rejected {rejected:,}{reasons}, bots {figures['bot_rows']:,}, "
        f"items {figures['items_touched']:,}, rows written: {describe_counts(figures['rows_written'])}; "
        f"{sum(seconds.values()):.1f} s ({stages})"
    )


def run_window(
    settings: Settings, url: str, window: Window, roll_up_types: Sequence[str], as_of: datetime | None
) -> tuple[dict[str, Any], list[str]]:
    """Extract, compute and load one window; return its figures and the items it touched."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    raw = extract_window(url, window, settings)
    timings["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    result = compute_hours(raw, window.start, window.end, metric_config(settings))
    timings["compute"] = time.perf_counter() - started
    started = time.perf_counter()
    loaded = load_window(url, result, window, settings, roll_up_types, as_of)
    timings["load"] = time.perf_counter() - started
    return {
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        **result.report,
        "rows_written": loaded.rows_written,
        "rows_deleted": loaded.rows_deleted,
        "items_touched": len(loaded.items),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }, loaded.items


def scheduled_as_of() -> datetime:
    """When a run is for: its scheduled start (so a late run still computes its own window), else now."""
    scheduled = flow_run.scheduled_start_time
    return datetime.fromtimestamp(scheduled.timestamp(), UTC) if scheduled else datetime.now(UTC)


def _as_of_parameter() -> datetime:
    value = flow_run.parameters.get("as_of")
    return ensure_utc(value) if isinstance(value, datetime) else scheduled_as_of()


def _hourly_run_name() -> str:
    """The run's window, as the run computes it (the lookback included)."""
    try:
        settings = load_settings()
        lookback = flow_run.parameters.get("lookback_hours")
        lookback = settings.hourly_lookback_hours if lookback is None else lookback
        window = hourly_window(_as_of_parameter(), max(int(lookback), 0), settings.timezone)
    except (ValueError, OverflowError):
        # A name that raised would leave the run Pending for good; the flow refuses the value itself, with the fix.
        return "hourly"
    return f"hourly {window.label('range')}"


def _daily_run_name() -> str:
    try:
        settings = load_settings()
        day = previous_day(_as_of_parameter(), settings.timezone)
    except (ValueError, OverflowError):
        return "daily"
    return f"daily {day} {settings.timezone}"


@flow(name="hourly", flow_run_name=_hourly_run_name, log_prints=False)
def hourly(as_of: datetime | None = None, lookback_hours: int | None = None) -> dict[str, Any]:
    """Recompute the last closed local hour and `lookback_hours` before it; refresh touched summaries."""
    started_at = datetime.now(UTC)
    settings = load_settings()
    as_of = check_as_of(as_of or scheduled_as_of(), started_at, "hourly")
    lookback = check_lookback_hours(settings.hourly_lookback_hours if lookback_hours is None else lookback_hours, "hourly")
    window = hourly_window(as_of, lookback, settings.timezone)
    logger = get_run_logger()
    url, unplaceable = prepare_database(settings)
    # Rows committed since the last run, whatever their age: queued before this window is read.
    found = find_late_rows(url, settings)
    figures, items = run_window(settings, url, window, ["day"], as_of)
    late, late_items = catch_up_late_rows(settings, url, window, as_of, found, extract_window, metric_config(settings))
    figures.update(late)
    items = sorted(set(items) | set(late_items))
    figures["rows_without_timestamp_in_table"] = unplaceable["missing_timestamp"]
    figures["rows_out_of_range_in_table"] = unplaceable["timestamp_out_of_range"]
    title = f"hourly {window.label('range')}"
    logger.info("%s: %s", title, summarise_figures(figures))
    publish_run_report(url, settings, "hourly", title, figures, items, started_at)
    return figures


@flow(name="daily", flow_run_name=_daily_run_name, log_prints=False)
def daily(as_of: datetime | None = None) -> dict[str, Any]:
    """Recompute the previous local day whole, its week and month, all_time rows and summaries."""
    started_at = datetime.now(UTC)
    settings = load_settings()
    as_of = check_as_of(as_of or scheduled_as_of(), started_at, "daily")
    window = day_window(previous_day(as_of, settings.timezone), settings.timezone)
    logger = get_run_logger()
    url, unplaceable = prepare_database(settings)
    figures, items = run_window(settings, url, window, ["day", "week", "month"], as_of)
    refresh_top_events(url, settings)
    figures["rows_without_timestamp_in_table"] = unplaceable["missing_timestamp"]
    figures["rows_out_of_range_in_table"] = unplaceable["timestamp_out_of_range"]
    title = f"daily {window.label('range')}"
    logger.info("%s: %s", title, summarise_figures(figures))
    publish_run_report(url, settings, "daily", title, figures, items, started_at)
    return figures
