"""The hourly and daily Prefect flows: extract, compute, load, report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.database import Database, require_migrated, resolve_database
from flows.heartbeats import end_heartbeats_with_flow
from flows.late import catch_up_late_rows, find_late_rows
from flows.parameters import check_as_of, check_lookback_hours
from flows.report import describe_counts, publish_run_report
from flows.settings import Settings, load_settings
from flows.sql import load_sql
from flows.window import process_window
from flows.windows import Window, day_window, ensure_utc, hourly_window, previous_day
from transforms.validation import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

# Commands return when their flow ends, not up to a second later (flows/heartbeats.py).
end_heartbeats_with_flow()

# One retried unit: a failed attempt's write rolled back whole, so the retry starts from nothing.
window_task = task(name="window", retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE)(process_window)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=600, cache_policy=NO_CACHE)
def refresh_top_events(db: Database) -> None:
    """Refresh the plan's event_analytics_top_events view without blocking its readers."""
    with db.connect() as conn:
        conn.execute(load_sql("refresh_top_events"))


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def prepare_database(settings: Settings) -> tuple[Database, dict[str, int]]:
    """The database, after checking its schema is migrated; and rows no window can hold, by reason."""
    db = resolve_database(settings)
    with db.connect() as conn:
        require_migrated(conn)
        bounds = {"earliest": EARLIEST_TIMESTAMP, "latest": LATEST_TIMESTAMP}
        with conn.transaction():
            # Index ranges whatever the statistics say: on a raw table never analysed (rows just
            # loaded), the planner guessed a third of the table per bound and scanned all of it, a
            # cost that grew with history in every run (0.26 s at 1M rows against 0.017 s).
            conn.execute("set local enable_seqscan = off")
            without_timestamp, out_of_range = conn.execute(load_sql("count_rows_without_timestamp"), bounds).fetchone()
    return db, {"missing_timestamp": without_timestamp, "timestamp_out_of_range": out_of_range}


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


def run_window(db: Database, window: Window, roll_up_types: Sequence[str], as_of: datetime | None) -> tuple[dict[str, Any], list[str]]:
    """Extract, compute and write one window (flows/window.py); return its figures and the items it touched."""
    report = window_task(db, window, roll_up_types=roll_up_types, as_of=as_of)
    return report.figures(), report.items


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
    db, unplaceable = prepare_database(settings)
    # Rows committed since the last run, whatever their age: queued before this window is read.
    found = find_late_rows(db)
    figures, items = run_window(db, window, ["day"], as_of)
    late, late_items = catch_up_late_rows(db, window, as_of, found)
    figures.update(late)
    items = sorted(set(items) | set(late_items))
    figures["rows_without_timestamp_in_table"] = unplaceable["missing_timestamp"]
    figures["rows_out_of_range_in_table"] = unplaceable["timestamp_out_of_range"]
    title = f"hourly {window.label('range')}"
    logger.info("%s: %s", title, summarise_figures(figures))
    publish_run_report(db, "hourly", title, figures, items, started_at)
    return figures


@flow(name="daily", flow_run_name=_daily_run_name, log_prints=False)
def daily(as_of: datetime | None = None) -> dict[str, Any]:
    """Recompute the previous local day whole, its week and month, all_time rows and summaries."""
    started_at = datetime.now(UTC)
    settings = load_settings()
    as_of = check_as_of(as_of or scheduled_as_of(), started_at, "daily")
    window = day_window(previous_day(as_of, settings.timezone), settings.timezone)
    logger = get_run_logger()
    db, unplaceable = prepare_database(settings)
    figures, items = run_window(db, window, ["day", "week", "month"], as_of)
    refresh_top_events(db)
    figures["rows_without_timestamp_in_table"] = unplaceable["missing_timestamp"]
    figures["rows_out_of_range_in_table"] = unplaceable["timestamp_out_of_range"]
    title = f"daily {window.label('range')}"
    logger.info("%s: %s", title, summarise_figures(figures))
    publish_run_report(db, "daily", title, figures, items, started_at)
    return figures
