"""The consistency check: stored analytics against their invariants, with a repair from hour rows and visitor state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import psycopg
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.database import Database, DatabaseError
from flows.heartbeats import end_heartbeats_with_flow
from flows.load import LoadReport, analytics_transaction, rebuild_all_time, refresh_summaries, roll_up
from flows.settings import load_settings
from flows.sql import load_sql
from transforms.consistency import (
    DRIFT,
    DRIFT_KINDS,
    RepairPlan,
    backfill_commands,
    format_check_report,
    format_drift_line,
    plan_repair,
    summarise_drift,
)
from transforms.periods import ALL_TIME_START

# Commands return when their flow ends, not up to a second later (flows/heartbeats.py).
end_heartbeats_with_flow()

# Days first: weeks and months are summed from stored days.
REPAIR_ORDER = ("day", "week", "month")


class DriftFound(DatabaseError):
    """Stored analytics break an invariant; the message names the kinds and the command that repairs them."""


def scan_drift(conn: psycopg.Connection, items: Sequence[str] | None, timezone_name: str, today: date) -> pl.DataFrame:
    """Every drifted row, one set-based query per kind of drift, over stored analytics only."""
    params = {"items": list(items) if items is not None else None, "tz": timezone_name, "today": today, "all_time_start": ALL_TIME_START}
    frames = []
    for kind in DRIFT_KINDS:
        rows = conn.execute(load_sql(f"check_{kind}"), params).fetchall()
        if rows:
            frames.append(pl.DataFrame([(kind, *row) for row in rows], schema=DRIFT, orient="row"))
    return pl.concat(frames) if frames else pl.DataFrame(schema=DRIFT)


def count_items(conn: psycopg.Connection, items: Sequence[str] | None) -> int:
    if items is not None:
        return len(items)
    return conn.execute(load_sql("count_analytics_items")).fetchone()[0]


def repair(conn: psycopg.Connection, plan: RepairPlan, timezone_name: str, as_of: datetime) -> LoadReport:
    """Recompute the drifted all-time state, periods and summaries in one locked transaction, as a run would."""
    report = LoadReport()
    with analytics_transaction(conn):
        if plan.rebuild_items:
            rebuild_all_time(conn, plan.rebuild_items, timezone_name, report)
        for period_type in REPAIR_ORDER:
            for item, starts in plan.roll_ups.get(period_type, {}).items():
                for start in starts:
                    roll_up(conn, pl.Series([start], dtype=pl.Datetime("us", "UTC")), [item], [period_type], timezone_name, report)
        if plan.summary_items:
            refresh_summaries(conn, plan.summary_items, as_of, timezone_name, report)
        report.items = plan.items
    return report


def all_time_state_drift(conn: psycopg.Connection, items: Sequence[str] | None) -> list[str]:
    """Items whose all-time state disagrees with their hour rows and visitor state (deltas would keep it wrong)."""
    return [row[0] for row in conn.execute(load_sql("check_all_time_state"), {"items": list(items) if items is not None else None})]


def state_days(conn: psycopg.Connection, items: Sequence[str], timezone_name: str) -> tuple[date, date] | None:
    """The first and last local day that the items' hour rows or visitor-hours hold."""
    first, last = conn.execute(load_sql("read_state_span"), {"items": list(items)}).fetchone()
    if first is None:
        return None
    zone = ZoneInfo(timezone_name)
    return first.astimezone(zone).date(), last.astimezone(zone).date()


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=3600, cache_policy=NO_CACHE)
def read_all_time_drift(db: Database, items: list[str] | None) -> tuple[list[str], tuple[date, date] | None]:
    """Items whose all-time state was changed by hand, and the local days their stored state spans."""
    with db.connect() as conn:
        drifted = all_time_state_drift(conn, items)
        return drifted, state_days(conn, drifted, db.settings.timezone) if drifted else None


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=600, cache_policy=NO_CACHE)
def reset_items(db: Database, items: list[str]) -> None:
    """Delete the items' derived rows and visitor state in one locked transaction."""
    with db.connect() as conn, analytics_transaction(conn):
        conn.execute(load_sql("reset_items"), {"items": items})


def guard_all_time_state(db: Database, start: date, end: date, items: list[str] | None) -> list[str]:
    """Before a backfill: the items whose all-time state was changed by hand, reset when the range covers
    their whole history (the backfill then computes them afresh); else DriftFound naming the backfill that can."""
    drifted, span = read_all_time_drift(db, items)
    if not drifted:
        return []
    if span is None or (start <= span[0] and span[1] < end):
        # The range recomputes all their history: start them from nothing, as a first run would.
        reset_items(db, drifted)
        return drifted
    first, last = min(span[0], start), max(span[1] + timedelta(days=1), end)
    shown = ", ".join(drifted[:3]) + (", …" if len(drifted) > 3 else "")
    scope = f" --event {' '.join(drifted)}" if items is not None else ""
    raise DriftFound(
        f"backfill: the all-time state of {len(drifted)} items ({shown}) disagrees with their hour rows and visitor state "
        f"(changed by hand?) and {start} → {end} does not cover their history; "
        f"run `analytics backfill --start {first} --end {last} --rebuild-all-time{scope}`"
    )


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=3600, cache_policy=NO_CACHE)
def find_drift(db: Database, items: list[str] | None, today: date) -> tuple[pl.DataFrame, int]:
    """Drifted rows and the number of items checked."""
    with db.connect() as conn:
        return scan_drift(conn, items, db.settings.timezone, today), count_items(conn, items)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=3600, cache_policy=NO_CACHE)
def count_stale_rows(db: Database, items: list[str] | None) -> dict[str, int]:
    """Rows per period type (and summaries) computed under other definitions than the current ones."""
    with db.connect() as conn:
        return dict(conn.execute(load_sql("check_stale_rows"), {"items": items}).fetchall())


def find_stale_days(db: Database) -> tuple[list[str], list[date]]:
    """The items and local days whose hour or day rows were computed under other definitions."""
    with db.connect() as conn:
        rows = conn.execute(load_sql("read_stale_days"), {"tz": db.settings.timezone}).fetchall()
    return sorted({item for item, _ in rows}), sorted({day for _, day in rows})


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=3600, cache_policy=NO_CACHE)
def repair_drift(db: Database, drift: pl.DataFrame, as_of: datetime) -> LoadReport:
    """Recompute exactly the drifted items (retried whole: a failed attempt leaves nothing behind)."""
    with db.connect() as conn:
        return repair(conn, plan_repair(drift, db.settings.timezone), db.settings.timezone, as_of)


def _check_run_name() -> str:
    from prefect.runtime import flow_run

    return "check --repair" if flow_run.parameters.get("repair") else "check"


@flow(name="check", flow_run_name=_check_run_name, log_prints=False)
def check(event_ids: list[str] | None = None, repair: bool = False, as_of: datetime | None = None, fail_on_drift: bool = True) -> dict:
    """Verify stored analytics against their invariants (all items, or `event_ids`); with `repair`,
    recompute the drifted items from their hour rows and visitor state.

    Raises DriftFound when drift remains and `fail_on_drift`, so a scheduled check shows as failed.
    """
    from flows.runs import prepare_database, scheduled_as_of

    started = time.perf_counter()
    settings = load_settings()
    logger = get_run_logger()
    as_of = as_of.astimezone(UTC) if as_of else scheduled_as_of()
    today = as_of.astimezone(settings.zone).date()
    db, _ = prepare_database(settings)
    items = sorted(set(event_ids)) if event_ids else None
    drift, checked = find_drift(db, items, today)
    found = summarise_drift(drift)
    figures: dict = {"items_checked": checked, "found": found}
    plan = plan_repair(drift, settings.timezone)
    if repair and found:
        repaired = repair_drift(db, drift, as_of)
        figures["repaired_items"] = repaired.items
        figures["rows_written"] = repaired.rows_written
        remaining, _ = find_drift(db, items, today)
        figures["remaining"] = summarise_drift(remaining)
        plan = plan_repair(remaining, settings.timezone)
    figures["backfills"] = backfill_commands(plan)
    figures["stale_by_type"] = count_stale_rows(db, items)
    figures["stale_rows"] = sum(figures["stale_by_type"].values())
    figures["seconds"] = time.perf_counter() - started
    title = "check --repair" if repair else "check"
    create_markdown_artifact(markdown=format_check_report(title, found, figures), key="check-report", description=title)
    for line in found:
        logger.info(format_drift_line(line))
    still = figures.get("remaining", found) if repair else found
    figures["drifted"] = bool(still)
    if still and fail_on_drift:
        raise DriftFound("; ".join(f"{line['kind']} in {len(line['items'])} items" for line in still) + "; run `analytics check --repair`")
    return figures
