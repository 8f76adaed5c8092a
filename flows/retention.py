"""The retention flow: anonymise old addresses, archive raw rows past retention to Parquet, verify, then delete them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import pyarrow as pa
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.archive import (
    ARCHIVED_EVENTS,
    ArchivedMonth,
    ArchiveIntegrityError,
    ArchiveVerificationError,
    Checksum,
    archive_month,
    month_bounds,
    read_archived_ids,
    reject_part,
    verify_month,
)
from flows.database import Database
from flows.heartbeats import end_heartbeats_with_flow
from flows.runs import prepare_database
from flows.settings import Settings, load_settings
from flows.sql import load_sql
from flows.windows import ensure_utc, format_instant
from transforms.validation import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

# Commands return when their flow ends, not up to a second later (flows/heartbeats.py).
end_heartbeats_with_flow()

# Session-level, held for a whole run: months are archived by one run at a time.
RETENTION_LOCK_KEY = 7_361_208_003
ARTIFACT_KEY = "retention-run-report"
# How far ahead of the clock an as_of may be: a scheduler's and a worker's clocks may drift apart a
# little, but an as_of beyond that would archive, delete and anonymise rows before their age.
FUTURE_TOLERANCE = timedelta(minutes=5)


class RetentionError(RuntimeError):
    """Retention refused to go on; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Cutoffs:
    """Rows with a timestamp before archive_before are archived and deleted; before anonymise_before, anonymised."""

    archive_before: datetime
    anonymise_before: datetime


def retention_cutoffs(as_of: datetime, settings: Settings, now: datetime) -> Cutoffs:
    """The two cut-offs of a run at as_of, never later than the clock (`now`) allows; refuse a future
    as_of, and settings that would archive full addresses."""
    if settings.anonymise_after_days > settings.retention_days:
        raise RetentionError(
            f"retention: ANALYTICS_ANONYMISE_AFTER_DAYS={settings.anonymise_after_days} is above "
            f"ANALYTICS_RETENTION_DAYS={settings.retention_days}, so rows would be archived with full IP addresses; "
            f"set it to {settings.retention_days} or less"
        )
    as_of, now = ensure_utc(as_of), ensure_utc(now)
    if as_of > now + FUTURE_TOLERANCE:
        raise RetentionError(
            f"retention: as_of {as_of.isoformat()} is in the future (the clock says {now.isoformat(timespec='seconds')}), "
            "and would archive, delete and anonymise rows before their age; pass an instant not after now, or none for now"
        )
    # Within the tolerance too, no row younger than its configured age by the real clock is touched.
    reference = min(as_of, now)
    return Cutoffs(
        archive_before=reference - timedelta(days=settings.retention_days),
        anonymise_before=reference - timedelta(days=settings.anonymise_after_days),
    )


def month_range(month: str, before: datetime) -> tuple[datetime, datetime]:
    """The part of a UTC month that lies before the archive cut-off."""
    start, end = month_bounds(month)
    return start, min(end, before)


def count_rows_to_archive(db: Database, before: datetime) -> dict[str, int]:
    """Rows past the archive cut-off per UTC month (rows the calendar cannot place never are)."""
    with db.connect() as conn:
        return dict(conn.execute(load_sql("retention_count_rows_to_archive"), _placed_before(before)).fetchall())


def count_addresses_to_anonymise(db: Database, before: datetime) -> dict[str, int]:
    """Rows per UTC month whose address the anonymisation step would cut."""
    with db.connect() as conn:
        return dict(conn.execute(load_sql("retention_count_addresses_to_anonymise"), _placed_before(before)).fetchall())


def _placed_before(before: datetime) -> dict[str, datetime]:
    return {"earliest": EARLIEST_TIMESTAMP, "before": before}


def select_rows(db: Database, start: datetime, end: datetime) -> pl.DataFrame:
    """Every column of the raw rows of [start, end), in the ARCHIVED_EVENTS shape."""
    return pl.from_arrow(_fetch_arrow(db, "retention_select_rows", start, end)).cast(ARCHIVED_EVENTS)


def select_ids(db: Database, start: datetime, end: datetime) -> pl.Series:
    """Ids of the raw rows of [start, end)."""
    return pl.from_arrow(_fetch_arrow(db, "retention_select_ids", start, end)).get_column("id")


def delete_rows(db: Database, rows: pl.DataFrame, verified: Checksum, start: datetime, end: datetime) -> int:
    """Delete exactly the verified rows in one transaction; roll back unless what was deleted matches the archive."""
    with adbc.connect(db.url) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"set statement_timeout = {int(db.settings.statement_timeout_seconds) * 1000}")
            cursor.adbc_ingest("retention_archived_ids", pa.table({"id": rows.get_column("id").to_arrow()}), mode="create", temporary=True)
            cursor.execute(load_sql("retention_delete_rows"), (start, end))
            deleted, digest = cursor.fetchone()
        if Checksum(rows=deleted, digest=digest) != verified:
            conn.rollback()
            raise RetentionError(
                f"retention: the rows of [{start.isoformat()}, {end.isoformat()}) to delete ({deleted}, checksum {digest}) "
                f"differ from the archived ones ({verified.rows}, checksum {verified.digest}), so nothing was deleted; "
                "a row changed or went away since it was read: rerun retention"
            )
        conn.commit()
    return deleted


def anonymise_addresses(db: Database, before: datetime) -> dict[str, int]:
    """Cut the addresses of rows older than `before`, in one transaction; return rows changed per UTC month."""
    with db.connect() as conn, conn.transaction():
        return dict(conn.execute(load_sql("retention_anonymise_addresses"), _placed_before(before)).fetchall())


def plan_retention(db: Database, cutoffs: Cutoffs) -> dict[str, Any]:
    """What a run with these cut-offs would do, per month, without writing anything to the database or the archive."""
    to_archive = count_rows_to_archive(db, cutoffs.archive_before)
    to_anonymise = count_addresses_to_anonymise(db, cutoffs.anonymise_before)
    months = []
    for month in sorted(to_archive.keys() | to_anonymise.keys()):
        already = 0
        if month in to_archive:
            ids = select_ids(db, *month_range(month, cutoffs.archive_before))
            already = int(ids.is_in(read_archived_ids(db.settings.archive_root, month).implode()).sum())
        selected = to_archive.get(month, 0)
        months.append(
            {
                "month": month,
                "rows_to_archive": selected - already,
                "rows_already_archived": already,
                "rows_to_delete": selected,
                "rows_to_anonymise": to_anonymise.get(month, 0),
            }
        )
    return {
        "archive_before": cutoffs.archive_before.isoformat(),
        "anonymise_before": cutoffs.anonymise_before.isoformat(),
        "months": months,
    }


def _fetch_arrow(db: Database, query: str, start: datetime, end: datetime) -> pa.Table:
    with adbc.connect(db.url) as conn, conn.cursor() as cursor:
        cursor.execute(f"set statement_timeout = {int(db.settings.statement_timeout_seconds) * 1000}")
        cursor.execute(load_sql(query), (start, end))
        return cursor.fetch_arrow_table()


def _retry_unless_refused(_task: Any, _task_run: Any, state: Any) -> bool:
    """Retry transient failures, not a deliberate refusal or a damaged archive (retrying would refuse again)."""
    try:
        state.result()
    except (RetentionError, ArchiveIntegrityError):
        return False
    except Exception:
        return True
    return True


@task(retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_retry_unless_refused, timeout_seconds=1800, cache_policy=NO_CACHE)
def plan_run(db: Database, cutoffs: Cutoffs) -> dict[str, Any]:
    """What the run would do per month (reads only)."""
    return plan_retention(db, cutoffs)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE)
def anonymise_old_addresses(db: Database, before: datetime) -> dict[str, int]:
    """Anonymise addresses past the shorter period (retried whole: one transaction)."""
    return anonymise_addresses(db, before)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def list_months_to_archive(db: Database, before: datetime) -> dict[str, int]:
    """Rows past the archive cut-off per UTC month."""
    return count_rows_to_archive(db, before)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=1800, cache_policy=NO_CACHE, task_run_name="select-rows-{month}")
def select_month_rows(db: Database, month: str, start: datetime, end: datetime) -> pl.DataFrame:
    """One month's rows past the cut-off, every column."""
    return select_rows(db, start, end)


@task(
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_retry_unless_refused,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
    task_run_name="archive-{month}",
)
def write_month_archive(archive_root: Path, month: str, rows: pl.DataFrame) -> ArchivedMonth:
    """Write the month's rows not archived yet to a new Parquet part."""
    return archive_month(archive_root, month, rows)


@task(timeout_seconds=1800, cache_policy=NO_CACHE, task_run_name="verify-{month}")
def verify_month_archive(archive_root: Path, month: str, rows: pl.DataFrame) -> Checksum:
    """Read the month's rows back from the archive and compare count and checksum (never retried: a mismatch stays one)."""
    return verify_month(archive_root, month, rows)


@task(
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=_retry_unless_refused,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
    task_run_name="delete-{month}",
)
def delete_archived_rows(db: Database, month: str, rows: pl.DataFrame, verified: Checksum, start: datetime, end: datetime) -> int:
    """Delete the month's archived rows in one transaction."""
    return delete_rows(db, rows, verified, start, end)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=120, cache_policy=NO_CACHE)
def record_run_report(db: Database, report: dict[str, Any], started_at: datetime) -> None:
    """Keep the run's report in event_analytics_runs, next to the hourly and daily ones."""
    with db.connect() as conn, conn.transaction():
        conn.execute(
            load_sql("insert_run_report"),
            {
                "flow_name": "retention",
                "window_start": None,
                "window_end": report["archive_before"],
                "started_at": started_at,
                "report": json.dumps(report, default=str),
            },
        )


def _as_of_parameter() -> datetime:
    value = flow_run.parameters.get("as_of")
    return ensure_utc(value) if isinstance(value, datetime) else datetime.now(UTC)


def _retention_run_name() -> str:
    prefix = "retention dry run" if flow_run.parameters.get("dry_run") else "retention"
    return f"{prefix} {_as_of_parameter():%Y-%m-%dT%H:%MZ}"


@contextmanager
def hold_retention_lock(db: Database) -> Iterator[None]:
    """Hold the retention advisory lock for the block, or refuse when another run holds it."""
    with db.connect(autocommit=True) as conn:
        if not conn.execute(load_sql("retention_try_lock"), {"lock_key": RETENTION_LOCK_KEY}).fetchone()[0]:
            raise RetentionError(
                f"retention: another retention run holds advisory lock {RETENTION_LOCK_KEY} on this database; "
                "wait for it to finish, then rerun"
            )
        # Released when the connection closes, however the block ends.
        yield


@flow(name="retention", flow_run_name=_retention_run_name, log_prints=False)
def retention(dry_run: bool = False, as_of: datetime | None = None) -> dict[str, Any]:
    """Anonymise addresses past the shorter period, then archive, verify and delete raw rows past retention, a month at a time."""
    settings = load_settings()
    now = datetime.now(UTC)
    as_of = ensure_utc(as_of) if as_of else now
    # Before anything is read: a deployment run may pass any as_of.
    cutoffs = retention_cutoffs(as_of, settings, now=now)
    logger = get_run_logger()
    started, started_at = time.perf_counter(), datetime.now(UTC)
    db, unplaceable = prepare_database(settings)
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "as_of": as_of.isoformat(),
        "archive_before": cutoffs.archive_before.isoformat(),
        "anonymise_before": cutoffs.anonymise_before.isoformat(),
        "archive_root": str(settings.archive_root),
        "rows_without_timestamp_kept": unplaceable["missing_timestamp"],
        "rows_out_of_range_kept": unplaceable["timestamp_out_of_range"],
        "months": [],
    }
    try:
        if dry_run:
            report["months"] = plan_run(db, cutoffs)["months"]
        else:
            with hold_retention_lock(db):
                apply_retention(db, cutoffs, report["months"])
    except Exception as exc:
        report["error"] = str(exc)
        raise
    finally:
        report["totals"] = _totals(report["months"])
        report["seconds"] = round(time.perf_counter() - started, 3)
        create_markdown_artifact(
            markdown=render_report(report), key=ARTIFACT_KEY, description="What retention archived, verified, deleted and anonymised"
        )
    if not dry_run:
        record_run_report(db, report, started_at)
    totals = ", ".join(f"{name.removeprefix('rows_').replace('_', ' ')} {n:,}" for name, n in report["totals"].items()) or "nothing to do"
    logger.info("retention%s as of %s: %s", " (dry run)" if dry_run else "", format_instant(as_of), totals)
    return report


def apply_retention(db: Database, cutoffs: Cutoffs, months: list[dict[str, Any]]) -> None:
    """Anonymise, then archive, verify and delete month by month, appending each month's figures to `months`."""
    # Anonymised first, so the archive, which is kept for good, never holds a full address.
    anonymised = anonymise_old_addresses(db, cutoffs.anonymise_before)
    to_archive = list_months_to_archive(db, cutoffs.archive_before)
    for month in sorted(to_archive.keys() | anonymised.keys()):
        figures: dict[str, Any] = {"month": month, "rows_anonymised": anonymised.get(month, 0)}
        months.append(figures)
        if month not in to_archive:
            continue
        start, end = month_range(month, cutoffs.archive_before)
        rows = select_month_rows(db, month, start, end)
        archived = write_month_archive(db.settings.archive_root, month, rows)
        figures.update(
            rows_selected=archived.rows_selected,
            rows_already_archived=archived.rows_already_archived,
            rows_archived=archived.rows_written,
            file=archived.path.name if archived.path else None,
        )
        try:
            verified = verify_month_archive(db.settings.archive_root, month, rows)
        except ArchiveVerificationError:
            # Every row of a part written by this run is still in the database, so setting it aside
            # loses nothing and lets the rerun write it afresh instead of counting it as archived.
            if archived.path:
                reject_part(archived.path)
            raise
        figures.update(rows_verified=verified.rows, checksum=verified.digest)
        figures["rows_deleted"] = delete_archived_rows(db, month, rows, verified, start, end)


_TOTAL_KEYS = (
    "rows_selected",
    "rows_already_archived",
    "rows_archived",
    "rows_verified",
    "rows_deleted",
    "rows_anonymised",
    "rows_to_archive",
    "rows_to_delete",
    "rows_to_anonymise",
)


def _totals(months: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(m.get(key) or 0 for m in months) for key in _TOTAL_KEYS if any(key in m for m in months)}


def render_report(report: dict[str, Any]) -> str:
    """The run report as Markdown: cut-offs, then one table row per month and a total."""
    if report["dry_run"]:
        title = "Retention dry run: nothing was written"
        columns = [
            ("month", "month"),
            ("to archive", "rows_to_archive"),
            ("already archived", "rows_already_archived"),
            ("to delete", "rows_to_delete"),
            ("to anonymise", "rows_to_anonymise"),
        ]
    else:
        title = "Retention"
        columns = [
            ("month", "month"),
            ("selected", "rows_selected"),
            ("archived", "rows_archived"),
            ("already archived", "rows_already_archived"),
            ("verified", "rows_verified"),
            ("deleted", "rows_deleted"),
            ("anonymised", "rows_anonymised"),
            ("part file", "file"),
        ]
    lines = [
        f"# {title}",
        "",
        f"As of {report['as_of']}: rows before **{report['archive_before']}** are archived to `{report['archive_root']}` "
        f"and deleted; addresses of rows before **{report['anonymise_before']}** are anonymised (IPv4 /24, IPv6 /48).",
        "",
        "| " + " | ".join(label for label, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for month in report["months"]:
        lines.append("| " + " | ".join(_cell(month.get(key)) for _, key in columns) + " |")
    totals = report.get("totals", {})
    lines.append("| **total** | " + " | ".join(_cell(totals.get(key)) for _, key in columns[1:]) + " |")
    lines += [
        "",
        f"Rows without a timestamp, kept in the database: {report['rows_without_timestamp_kept']}.",
        f"Rows dated outside {EARLIEST_TIMESTAMP:%Y}–{LATEST_TIMESTAMP:%Y} (timestamp out of range), kept in the database untouched: {report.get('rows_out_of_range_kept', 0)}.",
    ]
    if report.get("error"):
        lines += ["", f"**Failed:** {report['error']}"]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"`{value}`" if isinstance(value, str) and value.startswith("part-") else str(value)
