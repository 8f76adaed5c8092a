"""The one path every window takes: raw rows with their visit context, hours computed from them,
and everything derived written in one transaction. The hourly and daily runs, each backfill chunk,
the late hours an hourly run catches up and the benchmarks all go through `process_window`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from data.reference import load_bot_patterns, load_known_sources
from flows.database import Database
from flows.extract import extract_with_visit_context
from flows.load import LoadReport, add_counts, write_in_shards, write_window
from flows.settings import Settings
from flows.sql import load_sql
from flows.windows import Window
from transforms.pipeline import HourResult, MetricConfig, compute_hours
from transforms.shards import shard_items
from transforms.stored import prepare_window

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


STAGES = ("queue", "extract", "compute", "lock_wait", "write")
# One window of a process extracts and computes at a time. Two backfill chunks in flight then form a
# pipeline: one computes while the other writes, rather than both computing at once on the core the
# database is not writing with and reaching their writes together (bench/README.md).
_COMPUTE_TURN = threading.Lock()


@dataclass
class WindowReport:
    """What one window read, left out and wrote, and where its time went (seconds by stage: queue
    for the process's extract-and-compute turn, extract, compute, lock_wait for the analytics write
    lock, write under the lock to commit)."""

    window: Window
    rows_read: int = 0
    rows_rejected: dict[str, int] = field(default_factory=dict)
    bot_rows: int = 0
    rows_counted: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_deleted: dict[str, int] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def merge(self, other: WindowReport) -> WindowReport:
        """Both windows' figures added up, over the span from the earlier start to the later end (a backfill's totals)."""

        span = Window(min(self.window.start, other.window.start), max(self.window.end, other.window.end), self.window.timezone)
        return WindowReport(
            span,
            rows_read=self.rows_read + other.rows_read,
            rows_rejected=add_counts(self.rows_rejected, other.rows_rejected),
            bot_rows=self.bot_rows + other.bot_rows,
            rows_counted=self.rows_counted + other.rows_counted,
            rows_written=add_counts(self.rows_written, other.rows_written),
            rows_deleted=add_counts(self.rows_deleted, other.rows_deleted),
            items=sorted(set(self.items) | set(other.items)),
            seconds=add_counts(self.seconds, other.seconds),
        )

    @classmethod
    def from_chunk(cls, figures: dict[str, Any], timezone_name: str) -> WindowReport:
        """A backfill chunk's report from the figures recorded with it (event_analytics_backfill_chunks)."""
        window = Window(datetime.fromisoformat(figures["chunk_start"]), datetime.fromisoformat(figures["chunk_end"]), timezone_name)
        return cls(
            window,
            rows_read=figures.get("rows_read", 0),
            rows_rejected=dict(figures.get("rows_rejected", {})),
            bot_rows=figures.get("bot_rows", 0),
            rows_counted=figures.get("rows_counted", 0),
            rows_written=dict(figures.get("rows_written", {})),
            items=list(figures.get("items", [])),
            seconds={stage: figures[f"{stage}_seconds"] for stage in STAGES if f"{stage}_seconds" in figures},
        )

    def figures(self) -> dict[str, Any]:
        """The report as JSON-ready figures (run reports, chunk records)."""
        return {
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "rows_read": self.rows_read,
            "rows_rejected": dict(self.rows_rejected),
            "bot_rows": self.bot_rows,
            "rows_counted": self.rows_counted,
            "rows_written": dict(self.rows_written),
            "rows_deleted": dict(self.rows_deleted),
            "items_touched": len(self.items),
            "seconds": {stage: round(value, 3) for stage, value in self.seconds.items()},
        }


def process_window(
    db: Database,
    window: Window,
    *,
    roll_up_types: Sequence[str],
    as_of: datetime | None,
    scope: Sequence[str] | None = None,
    record: Callable[[psycopg.Connection, WindowReport], None] | None = None,
    shards: int = 1,
) -> WindowReport:
    """Extract, compute and write one window; its rows of `scope`'s items only when given.

    `record` runs inside the write's transaction, after everything else was written and with the
    report complete but for the commit (a backfill records its chunk as done there, so that done
    means written; the late-hours catch-up takes its hours off the queue).

    With `shards` > 1 (backfill chunks, which refresh no summaries), the items are split into
    shards (transforms/shards.py) written side by side, each in its own transaction on its own
    connection; `record` then runs in a transaction of its own once every shard has committed. A
    failure after some shards committed leaves them written and the window not recorded: run again,
    it rewrites nothing that is already right (the upsert skips unchanged rows, all-time figures
    move by the difference to what is stored).
    """
    if shards > 1 and as_of is not None:
        raise ValueError("a window written in shards refreshes no summaries: pass as_of=None")
    report = WindowReport(window)
    config = metric_config(db.settings)
    queued = time.perf_counter()
    with _COMPUTE_TURN:
        started = time.perf_counter()
        raw, _ = extract_with_visit_context(db, window.start, window.end, VISIT_CONTEXT, config)
        extracted = time.perf_counter()
        result = compute_hours(raw, window.start, window.end, config)
        # Everything of the write that does not depend on stored rows, before the write lock.
        scopes = _shard_scopes(db, window, result, scope, shards) if shards > 1 else [scope]
        prepared = [prepare_window(result.only(part), window.start, window.end, roll_up_types, db.settings.timezone) for part in scopes]
        computed = time.perf_counter()
    report.rows_read = int(result.report["rows_read"])
    report.rows_rejected = dict(result.report["rows_rejected"])
    report.bot_rows = int(result.report["bot_rows"])
    report.rows_counted = int(result.report["rows_counted"])
    report.seconds = {"queue": started - queued, "extract": extracted - started, "compute": computed - extracted}
    del raw

    def fill(loaded: LoadReport) -> None:
        report.rows_written, report.rows_deleted, report.items = dict(loaded.rows_written), dict(loaded.rows_deleted), list(loaded.items)
        report.seconds["lock_wait"] = loaded.lock_wait_seconds
        report.seconds["write"] = time.perf_counter() - computed - loaded.lock_wait_seconds

    def record_in_transaction(conn: psycopg.Connection, loaded: LoadReport) -> None:
        fill(loaded)
        if record is not None:
            record(conn, report)

    def write(index: int, shard: tuple[int, int] | None, on_commit: Callable | None) -> LoadReport:
        with db.connect() as conn:
            return write_window(
                conn,
                result,
                window.start,
                window.end,
                timezone_name=db.settings.timezone,
                roll_up_types=roll_up_types,
                as_of=as_of,
                scope=scopes[index],
                record=on_commit,
                prepared=prepared[index],
                shard=shard,
            )

    if shards == 1:
        fill(write(0, None, record_in_transaction))
        return report

    fill(write_in_shards(scopes, lambda k, shard: write(k, shard, None)))
    if record is not None:
        with db.connect() as conn, conn.transaction():
            record(conn, report)
    return report


def _shard_scopes(db: Database, window: Window, result: HourResult, scope: Sequence[str] | None, shards: int) -> list[list[str]]:
    """The items a rewrite of the window may touch (computed, or with hour rows stored in it),
    within `scope`, split into item shards."""
    with db.connect() as conn:
        stored = [row[0] for row in conn.execute(load_sql("read_window_hour_items"), {"start": window.start, "end": window.end})]
    items = set(stored) | set(result.hours["event_id"].unique().to_list())
    if scope is not None:
        items &= set(scope)
    return shard_items(items, shards)
