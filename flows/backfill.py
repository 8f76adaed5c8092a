"""Recomputing a range of local days: chunked windows, then weeks, months and summaries once."""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.runtime import flow_run, task_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.archive import months_overlapping, partition_files
from flows.check import guard_all_time_state
from flows.database import Database
from flows.heartbeats import end_heartbeats_with_flow
from flows.load import LoadReport, analytics_transaction, merge_load_reports, rebuild_all_time, refresh_summaries, roll_up, write_in_shards
from flows.parameters import BACKFILL_PERIODS, MAX_CHUNK_DAYS, check_chunk_days, validate_backfill
from flows.parameters import BackfillError as BackfillError
from flows.parameters import parse_chunk as parse_chunk
from flows.report import describe_counts
from flows.settings import Settings, SettingsError, load_settings
from flows.sql import load_sql
from flows.window import WindowReport, process_window
from flows.windows import Window, day_window
from transforms.chunks import plan_chunks
from transforms.periods import month_first
from transforms.rollups import hours_of_periods_from
from transforms.shards import shard_items

# Commands return when their flow ends, not up to a second later (flows/heartbeats.py).
end_heartbeats_with_flow()


def pending_days(start: date, end: date, timezone_name: str, done: dict[str, dict]) -> list[date]:
    """The local days of [start, end) that no chunk already done covers."""
    covered = sorted(
        (datetime.fromisoformat(figures.get("chunk_start", key)), datetime.fromisoformat(figures["chunk_end"]))
        for key, figures in done.items()
        if figures.get("chunk_end")
    )
    starts = [lo for lo, _ in covered]
    pending = []
    day = start
    while day < end:
        window = day_window(day, timezone_name)
        # The last done chunk starting at or before the day's start is the only one that can cover it.
        at = bisect.bisect_right(starts, window.start) - 1
        if at < 0 or covered[at][1] < window.end:
            pending.append(day)
        day += timedelta(days=1)
    return pending


# The first chunk is smaller: nothing is written until it is computed (bench/README.md).
FIRST_CHUNK_FRACTION = 4
# Days counted, then four times as many, and so on, until the first chunk is sized.
FIRST_COUNT_DAYS = 8


class BackfillPlan:
    """The chunks still to compute, planned in two steps so that the first computes while the rest
    are sized: `chunk_days` days each, or with chunk_days None as many consecutive days as hold about
    ANALYTICS_CHUNK_ROWS raw rows, the first a quarter of that (a day in an archived month is a
    chunk of its own: its rows are not in the table to be counted).

    `first()` then `rest()` give the chunks plan_chunks gives for all the days at once: the first
    chunk is sized from the days' counts up to the day that closes it, and only the range's own first
    chunk is smaller, so that a resumed backfill plans the chunks it left as before."""

    def __init__(self, db: Database, start: date, end: date, chunk_days: int | None, done: dict[str, dict]) -> None:
        self.db = db
        self.chunk_days = chunk_days
        self.days = pending_days(start, end, db.settings.timezone, done)
        self.first_max_rows = db.settings.chunk_rows // FIRST_CHUNK_FRACTION if self.days and self.days[0] == start else None
        self._first_days = 0

    def first(self) -> Window | None:
        if not self.days:
            return None
        span = FIRST_COUNT_DAYS
        while True:
            counted = self.days[:span]
            planned = self._plan(counted, self.first_max_rows)
            # The first chunk is settled once a later one begins within the days counted.
            if len(planned) > 1 or len(counted) == len(self.days):
                break
            span *= 4
        first_day, self._first_days = planned[0]
        return day_window(first_day, self.db.settings.timezone, self._first_days)

    def rest(self) -> list[Window]:
        """The chunks after the first (call first() before)."""
        planned = self._plan(self.days[self._first_days :], None)
        return [day_window(first_day, self.db.settings.timezone, length) for first_day, length in planned]

    def _plan(self, days: list[date], first_max_rows: int | None) -> list[tuple[date, int]]:
        if not days:
            return []
        if self.chunk_days is not None:
            return plan_chunks(days, {}, max_rows=0, max_days=self.chunk_days)
        timezone_name, settings = self.db.settings.timezone, self.db.settings
        first, last = day_window(days[0], timezone_name), day_window(days[-1], timezone_name)
        params = {"timezone": timezone_name, "start": first.start, "end": last.end}
        with self.db.connect() as conn:
            rows_per_day = dict(conn.execute(load_sql("count_rows_per_day"), params).fetchall())
        archived = {month for month in months_overlapping(first.start, last.end) if partition_files(settings.archive_root, month)}
        single = [day for day in days if archived & set(_months_of(day_window(day, timezone_name)))]
        return plan_chunks(
            days, rows_per_day, max_rows=settings.chunk_rows, max_days=MAX_CHUNK_DAYS, single_days=single, first_max_rows=first_max_rows
        )


def plan_backfill_chunks(db: Database, start: date, end: date, chunk_days: int | None, done: dict[str, dict]) -> list[Window]:
    """The chunks still to compute (BackfillPlan), all at once."""
    plan = BackfillPlan(db, start, end, chunk_days, done)
    first = plan.first()
    return [] if first is None else [first, *plan.rest()]


def _months_of(window: Window) -> list[str]:
    return months_overlapping(window.start, window.end)


def month_windows(start: date, end: date, timezone_name: str) -> Iterator[Window]:
    """One window per calendar month touching [start, end), each cut to [start, end)."""
    first = month_first(start)
    while first < end:
        following = month_first(first, 1)
        lo, hi = max(first, start), min(following, end)
        yield day_window(lo, timezone_name, (hi - lo).days)
        first = following


def finish_range(
    db: Database,
    start: date,
    end: date,
    items: Sequence[str],
    period_types: Sequence[str],
    as_of: datetime | None,
    rebuild: bool = False,
) -> LoadReport:
    """Roll up the weeks and months containing [start, end) and refresh summaries, a month per
    transaction; with `rebuild`, first recompute the items' all-time state from all their hours."""
    report = LoadReport()
    if rebuild and items:
        with db.connect() as conn, analytics_transaction(conn):
            rebuild_all_time(conn, list(items), db.settings.timezone, report)
    longer = [p for p in period_types if p in ("week", "month")]
    parts = shard_items(items, db.settings.write_shards)

    def roll_up_shard(k: int, shard: tuple[int, int] | None) -> LoadReport:
        # A month per transaction; the shards' transactions run side by side.
        shard_report = LoadReport()
        for index, window in enumerate(month_windows(start, end, db.settings.timezone)):
            with db.connect() as conn, analytics_transaction(conn, shard):
                hours = pl.datetime_range(window.start, window.end, "1h", closed="left", eager=True, time_zone="UTC")
                for period_type in longer:
                    # Each month rolls up the periods that start in it (the range's first month: every
                    # period it touches), so a week crossing into the next month is rolled up once.
                    own = hours if index == 0 else hours_of_periods_from(hours, period_type, db.settings.timezone, window.start)
                    roll_up(conn, own, parts[k], [period_type], db.settings.timezone, shard_report)
        return shard_report

    if longer:
        report = merge_load_reports([report, write_in_shards(parts, roll_up_shard)])
    if as_of is not None and items:
        with db.connect() as conn, analytics_transaction(conn):
            refresh_summaries(conn, list(items), as_of, db.settings.timezone, report)
    report.items = list(items)
    return report


# --- the backfill flow -------------------------------------------------------------------------

_progress_listeners: list[Callable[[int, int, dict], None]] = []


def parameters_key(parameters: dict) -> str:
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def add_progress_listener(listener: Callable[[int, int, dict], None]) -> Callable[[], None]:
    """Call `listener(done, total, figures)` after each chunk of a backfill in this process; returns a remover."""
    _progress_listeners.append(listener)
    return lambda: _progress_listeners.remove(listener)


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=300, cache_policy=NO_CACHE)
def open_backfill(db: Database, parameters: dict, restart: bool) -> tuple[str, dict[str, dict]]:
    """Resume the unfinished backfill with the same parameters (or start one); return its id and done chunks."""
    key = parameters_key(parameters)
    with db.connect() as conn, conn.transaction():
        row = None if restart else conn.execute(load_sql("find_unfinished_backfill"), {"key": key}).fetchone()
        if row is None:
            backfill_id = conn.execute(
                load_sql("start_backfill"), {"key": key, "parameters": json.dumps(parameters, default=str)}
            ).fetchone()[0]
            return backfill_id, {}
        backfill_id = row[0]
        done = {
            chunk_start.isoformat(): figures
            for chunk_start, figures in conn.execute(load_sql("read_completed_chunks"), {"backfill_id": backfill_id})
        }
        return backfill_id, done


def _chunk_run_name() -> str:
    return f"chunk {task_run.parameters['window'].days_label()}"


def recompute_chunk(db: Database, window: Window, roll_up_types: list[str], scope: list[str] | None, backfill_id: str) -> dict:
    """Recompute one chunk of local days (flows/window.py) and record it as done, with where its time
    went, in the same transaction."""
    started = time.perf_counter()

    def figures_of(report: WindowReport) -> dict:
        return {
            "chunk_start": window.start.isoformat(),
            "chunk_end": window.end.isoformat(),
            "rows_read": report.rows_read,
            "rows_rejected": report.rows_rejected,
            "bot_rows": report.bot_rows,
            "rows_counted": report.rows_counted,
            "rows_written": report.rows_written,
            "items": report.items,
            **{f"{stage}_seconds": round(value, 3) for stage, value in report.seconds.items()},
        }

    def record(conn, report: WindowReport) -> None:
        conn.execute(
            load_sql("record_completed_chunk"),
            {"backfill_id": backfill_id, "chunk_start": window.start, "chunk_end": window.end, "figures": json.dumps(figures_of(report))},
        )

    report = process_window(
        db, window, roll_up_types=roll_up_types, as_of=None, scope=scope, record=record, shards=db.settings.write_shards
    )
    return {**figures_of(report), "seconds": round(time.perf_counter() - started, 3)}


# The task wraps a function this module names, so that Dask workers unpickle it by importing this
# module: under its own name the module holds the Task, so cloudpickle would ship the function by
# value, with the module globals it reads. No task timeout: chunks run in worker threads, which
# Prefect cannot interrupt; the database's statement_timeout bounds every statement instead.
backfill_chunk = task(name="backfill_chunk", retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE, task_run_name=_chunk_run_name)(
    recompute_chunk
)


@task(retries=2, retry_delay_seconds=[10, 60], timeout_seconds=3600, cache_policy=NO_CACHE)
def finish_backfill(
    db: Database,
    start: date,
    end: date,
    items: list[str],
    period_types: list[str],
    as_of: datetime,
    backfill_id: str,
    rebuild: bool,
) -> dict:
    """Weeks and months containing the range, whole; summaries of touched items; mark the backfill done."""
    report = finish_range(db, start, end, items, period_types, as_of, rebuild=rebuild)
    with db.connect() as conn, conn.transaction():
        conn.execute(load_sql("finish_backfill"), {"backfill_id": backfill_id})
    return report.rows_written


def default_task_runner():
    """Chunks on ANALYTICS_BACKFILL_WORKERS threads here (default 2: one chunk extracts and computes
    while another writes; writes queue on the database lock), or on the Dask cluster named by
    ANALYTICS_DASK_ADDRESS."""
    address = os.environ.get("ANALYTICS_DASK_ADDRESS")
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    try:
        workers = load_settings().backfill_workers
    except SettingsError:
        # Importing this module must not fail: the flow reads the settings again when it starts
        # and refuses them there, in one line that says what to fix.
        workers = Settings().backfill_workers
    return ThreadPoolTaskRunner(max_workers=workers)


def dask_task_runner(address: str | None, workers: int | None, api_url: str):
    """Chunks on the Dask scheduler at `address`, or on `workers` local processes given our Prefect API and settings."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    env = {name: value for name, value in os.environ.items() if name == "DATABASE_URL" or name.startswith("ANALYTICS_")}
    env["PREFECT_API_URL"] = api_url
    cluster = {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0", "env": env}
    return DaskTaskRunner(cluster_kwargs=cluster)


def find_dask_problem(api_url: str | None, address: str | None) -> str | None:
    """What stops Dask workers from running chunks (and how to fix it), or None."""
    from distributed import Client

    if not api_url:
        # Each worker process would start a temporary Prefect server of its own, and the chunks'
        # task runs would land there instead of in this flow run.
        return (
            "Dask workers report to this command's Prefect server, and PREFECT_API_URL is not set; "
            "start one with `uv run prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    if not address:
        return None
    try:
        with Client(address, timeout=15, set_as_default=False) as client:
            workers = len(client.scheduler_info()["workers"])
    except (OSError, TimeoutError, ValueError) as exc:
        return f"no Dask scheduler answers at {address} ({exc}); start one with `uv run dask scheduler`, or fix --dask-address / ANALYTICS_DASK_ADDRESS"
    if workers == 0:
        return f"the Dask scheduler at {address} has no workers; start some with `uv run dask worker {address}`"
    return None


def _backfill_run_name() -> str:
    parameters = flow_run.parameters
    return f"backfill {parameters.get('start')} → {parameters.get('end')}"


# A report lists this many chunks from each end of the range; a year of daily chunks would not fit a page.
REPORT_CHUNKS_EACH_END = 10


def chunk_label(figures: dict, timezone_name: str) -> str:
    """A chunk's local days, `2026-09-01 → 2026-09-02`."""
    return Window(datetime.fromisoformat(figures["chunk_start"]), datetime.fromisoformat(figures["chunk_end"]), timezone_name).days_label()


def describe_chunk(figures: dict) -> str:
    """`read 3,346 rows, rejected 12 (missing item 10, unknown type 2), wrote hour 1,651, day 185`."""
    rejected = sum(figures.get("rows_rejected", {}).values())
    reasons = f" ({describe_counts(figures['rows_rejected'])})" if rejected else ""
    return f"read {figures.get('rows_read', 0):,} rows, rejected {rejected:,}{reasons}, wrote {describe_counts(figures.get('rows_written', {}))}"


def chunk_rows(chunk_figures: Sequence[dict], timezone_name: str) -> list[str]:
    """Markdown table rows, one per chunk in date order; for many chunks the first and last few and a note."""
    ordered = sorted(chunk_figures, key=lambda figures: figures["chunk_start"])

    def row(figures: dict) -> str:
        seconds = figures.get("seconds")
        return (
            f"| {chunk_label(figures, timezone_name)} | {figures.get('rows_read', 0):,} | {sum(figures.get('rows_rejected', {}).values()):,} "
            f"| {sum(figures.get('rows_written', {}).values()):,} | {'earlier attempt' if seconds is None else f'{seconds:.1f}'} |"
        )

    shown = REPORT_CHUNKS_EACH_END
    if len(ordered) <= 2 * shown:
        return [row(figures) for figures in ordered]
    hidden = len(ordered) - 2 * shown
    return [*map(row, ordered[:shown]), f"| … {hidden:,} more chunks, in the totals above | | | | |", *map(row, ordered[-shown:])]


def format_backfill_report(title: str, figures: dict, chunk_figures: Sequence[dict] = ()) -> str:
    rejected = figures["rows_rejected"]
    written = figures["rows_written"]
    lines = [
        f"# {title}",
        "",
        f"**Range** {figures['start']} → {figures['end']} (local days in {figures['timezone']}, end exclusive); "
        f"**chunks** {figures['chunks']} ({figures['chunks_resumed']} already done by an earlier attempt); "
        f"**time** {figures['seconds']:.1f} s",
        "",
        "| rows | count |",
        "|---|---:|",
        f"| read | {figures['rows_read']:,} |",
        *[f"| rejected: {reason.replace('_', ' ')} | {n:,} |" for reason, n in rejected.items()],
        f"| bots left out | {figures['bot_rows']:,} |",
        "",
        f"**Items touched** {figures['items_touched']:,}",
        "",
        "| period type | rows written |",
        "|---|---:|",
        *[f"| {period} | {n:,} |" for period, n in written.items()],
    ]
    if chunk_figures:
        lines += [
            "",
            f"**Chunks** ({len(chunk_figures):,}; local days, end exclusive; rows written counts hour, day and all-time rows)",
            "",
            "| chunk | rows read | rejected | rows written | seconds |",
            "|---|---:|---:|---:|---:|",
            *chunk_rows(chunk_figures, figures["timezone"]),
        ]
    return "\n".join(lines) + "\n"


def run_backfill(
    start: date,
    end: date,
    period_types: list[str] = list(BACKFILL_PERIODS),  # noqa: B006 - Prefect shows the default in the run form
    event_ids: list[str] | None = None,
    chunk_days: int | None = None,
    restart: bool = False,
    rebuild_all_time: bool = False,
) -> dict:
    """Recompute local days [start, end) in chunks, then weeks, months and summaries once.

    Hours are always recomputed (every other figure is summed from them). Rerunning the same
    parameters resumes an interrupted backfill.

    Args:
        start: First local day to recompute, in ANALYTICS_TIMEZONE, e.g. 2026-09-01.
        end: Local day after the last one: exclusive, so 2026-10-01 ends the range with 2026-09-30.
        period_types: Which of hour, day, week and month to write; weeks and months are recomputed whole.
        event_ids: Only these items (UUIDs); empty for all items.
        chunk_days: Local days per chunk; empty for as many days as hold about ANALYTICS_CHUNK_ROWS raw rows (default 200,000). Each chunk is one task and one transaction.
        restart: Start over instead of resuming an unfinished backfill with the same parameters.
        rebuild_all_time: Recompute the touched items' all-time rows from all their hour rows instead of moving them by deltas (repairs all-time state changed by hand; slower).
    """
    from flows.runs import prepare_database, scheduled_as_of

    started = time.perf_counter()
    settings = load_settings()
    logger = get_run_logger()
    today = scheduled_as_of().astimezone(settings.zone).date()
    periods, items = validate_backfill(start, end, period_types, event_ids, today, settings.timezone, cli=False)
    check_chunk_days(chunk_days)
    db, _ = prepare_database(settings)
    parameters = {
        "start": start,
        "end": end,
        "period_types": sorted(periods),
        "event_ids": items,
        "chunk_days": chunk_days,
        "timezone": settings.timezone,
    }
    # All-time state changed by hand would stay wrong under deltas: recomputed from nothing, or refused.
    hand_edited = guard_all_time_state(db, start, end, items)
    if hand_edited:
        logger.warning(
            "%d items' all-time state disagreed with their hours and visitor state; recomputing them from nothing", len(hand_edited)
        )
    backfill_id, done = open_backfill(db, parameters, restart)
    # Weeks and months are summed from days, so asking for either recomputes the days too.
    roll_up_types = ["day"] if {"day", "week", "month"} & set(periods) else []
    plan = BackfillPlan(db, start, end, chunk_days, done)
    first = plan.first()
    # The first chunk computes while the others are sized (counting every day's rows took 1.1 s of a
    # 1M-row backfill's start on a table never vacuumed, 0.37 s vacuumed, with nothing else running).
    futures = [] if first is None else [backfill_chunk.submit(db, first, roll_up_types, items, backfill_id)]
    pending = [] if first is None else [first, *plan.rest()]
    chunks = [*done.values(), *pending]
    size = f"{chunk_days} day(s)" if chunk_days else f"up to {settings.chunk_rows:,} rows (ANALYTICS_CHUNK_ROWS)"
    logger.info("backfill %s → %s: %d chunks of %s, %d already done", start, end, len(chunks), size, len(done))

    progress_id = create_progress_artifact(
        progress=100.0 * len(done) / max(len(chunks), 1), key="backfill-progress", description=f"backfill {start} → {end}"
    )
    results: list[dict] = list(done.values())
    futures += [backfill_chunk.submit(db, chunk, roll_up_types, items, backfill_id) for chunk in pending[1:]]
    for future in as_completed(futures):
        figures = future.result()
        results.append(figures)
        update_progress_artifact(progress_id, 100.0 * len(results) / len(chunks))
        logger.info("chunk %s: %s (%d/%d)", chunk_label(figures, settings.timezone), describe_chunk(figures), len(results), len(chunks))
        for listener in list(_progress_listeners):
            listener(len(results), len(chunks), figures)

    whole = day_window(start, settings.timezone, (end - start).days)
    totals = functools.reduce(WindowReport.merge, (WindowReport.from_chunk(f, settings.timezone) for f in results), WindowReport(whole))
    touched = sorted(set(totals.items) | set(items or []) | set(hand_edited))
    finished = finish_backfill(db, start, end, touched, periods, scheduled_as_of(), backfill_id, rebuild_all_time)
    totals = totals.merge(WindowReport(whole, rows_written=finished))
    report = {
        "start": str(start),
        "end": str(end),
        "timezone": settings.timezone,
        "chunks": len(chunks),
        "chunks_resumed": len(chunks) - len(pending),
        "rows_read": totals.rows_read,
        "rows_rejected": totals.rows_rejected,
        "bot_rows": totals.bot_rows,
        "items_touched": len(touched),
        "rows_written": totals.rows_written,
        "seconds": time.perf_counter() - started,
    }
    create_markdown_artifact(
        markdown=format_backfill_report(f"backfill {start} → {end}", report, results),
        key="backfill-report",
        description=f"backfill {start} → {end}",
    )
    logger.info(
        "backfill %s → %s done: %s chunks (%s resumed), %s; items %s; %.1f s",
        start,
        end,
        f"{report['chunks']:,}",
        f"{report['chunks_resumed']:,}",
        describe_chunk(report),
        f"{report['items_touched']:,}",
        report["seconds"],
    )
    return report


# Dask ships the flow to its workers in the flow run's context: wrapping a function this module
# names keeps that by reference (see backfill_chunk), rather than by value with the module's
# globals, among them the progress listeners that hold the terminal's progress bar and its RLock.
backfill = flow(name="backfill", flow_run_name=_backfill_run_name, task_runner=default_task_runner())(run_backfill)

if __name__ != "flows.backfill":
    # Loaded from its file (the deployment's entrypoint flows/backfill.py:backfill) under a module
    # name that Dask workers cannot import: hand out the package module's flow instead.
    from flows import backfill as _package_module

    backfill = _package_module.backfill
