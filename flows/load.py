"""Writes a computed window in one transaction: staged bulk upserts, all-time state, rollups, summaries."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import psycopg

from flows.database import SHARD_LOCK_CLASS, WRITE_LOCK_KEY
from flows.guards import guarded_writes, note_all_time_uniques, note_period_uniques, note_periods, note_summaries, verify_now
from flows.invalidation import invalidating_transaction
from flows.sql import load_sql
from transforms.breakdowns import attach_breakdown_json
from transforms.ids import ordered_ids
from transforms.metrics import BREAKDOWNS, PERIOD_METRICS
from transforms.periods import ALL_TIME_START
from transforms.pipeline import HourResult
from transforms.rollups import (
    ALL_TIME_FACTS,
    advance_all_time,
    complete_all_time,
    moved_uniques,
    period_span,
    period_spans,
    sum_periods,
    with_uniques,
)
from transforms.shards import shard_buckets
from transforms.stored import PreparedWindow, period_rows, prepare_window
from transforms.summary import ROLLING_WINDOWS, SUMMARY, as_of_hour, summarise_items
from transforms.text import without_nul

# all_time rows all start at ALL_TIME_START: reading the periods starting in this span reads them.
ALL_TIME_SPAN = (ALL_TIME_START, ALL_TIME_START + timedelta(days=1))
VIEW_BOUNDS = pl.Schema({name: dtype for name, dtype in ALL_TIME_FACTS.items() if name != "unique_views_count"})
PERIOD_UNIQUES = pl.Schema({"event_id": pl.String, "period_start": PERIOD_METRICS["period_start"], "unique_views_count": pl.Int64})
RECENT_SUMS = pl.Schema(
    {"event_id": pl.String, **{f"{figure}_{suffix}": pl.Int64 for suffix in ROLLING_WINDOWS for figure in ("views", "clicks")}}
)
RECENT_UNIQUES = pl.Schema({"event_id": pl.String, **{f"unique_views_{suffix}": pl.Int64 for suffix in ROLLING_WINDOWS}})


@dataclass
class LoadReport:
    """Rows written per period type, and the items whose figures were refreshed."""

    rows_written: dict[str, int] = field(default_factory=dict)
    rows_deleted: dict[str, int] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    # Time spent queueing for the analytics write lock, apart from writing (bench/README.md).
    lock_wait_seconds: float = 0.0


def add_counts(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Two reports' counts by key, added up (keys in first-seen order)."""
    return {key: left.get(key, 0) + right.get(key, 0) for key in dict.fromkeys([*left, *right])}


def merge_load_reports(reports: Sequence[LoadReport]) -> LoadReport:
    """Reports of writes that ran side by side (item shards) as one: rows added up, items joined,
    the longest wait for the lock."""
    merged = LoadReport()
    for report in reports:
        merged.rows_written = add_counts(merged.rows_written, report.rows_written)
        merged.rows_deleted = add_counts(merged.rows_deleted, report.rows_deleted)
        merged.items.extend(report.items)
        merged.lock_wait_seconds = max(merged.lock_wait_seconds, report.lock_wait_seconds)
    merged.items = sorted(set(merged.items))
    return merged


def write_in_shards(parts: Sequence[Sequence[str]], write: Callable[[int, tuple[int, int] | None], LoadReport]) -> LoadReport:
    """`write(k, shard)` for each non-empty part k of items split by transforms.shards.shard_items,
    side by side, each on its own thread (its own connection and transaction), and their reports
    merged. `shard` is (k, number of parts) for analytics_transaction, or None when there is one
    part: the whole-table write lock then, as for every other writer."""
    shards = len(parts)
    busy = [k for k, part in enumerate(parts) if part]
    with ThreadPoolExecutor(max_workers=len(busy) or 1, thread_name_prefix="analytics-shard") as pool:
        futures = [pool.submit(write, k, (k, shards) if shards > 1 else None) for k in busy]
        return merge_load_reports([future.result() for future in futures])


def copy_frame(conn: psycopg.Connection, table: str, frame: pl.DataFrame) -> None:
    """Bulk-load a frame into a (staging) table with COPY; column names must match."""
    # Quoted CSV carries quotes, backslashes, newlines and `\.` lines as they are; only NUL cannot
    # be sent, and one would fail the whole window, so it is replaced even if a transform missed it.
    frame = without_nul(frame)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="", quote_style="non_numeric")
    columns = ", ".join(frame.columns)
    with conn.cursor().copy(f"copy {table} ({columns}) from stdin with (format csv)") as copy:
        copy.write(buffer.getbuffer())


def read_frame(conn: psycopg.Connection, name: str, params: dict, schema: pl.Schema) -> pl.DataFrame:
    """Run a named query and read its rows as CSV into a frame of the given schema."""
    query = psycopg.ClientCursor(conn).mogrify(load_sql(name), params)
    buffer = io.BytesIO()
    with conn.cursor().copy(f"copy ({query}) to stdout with (format csv)") as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, new_columns=schema.names(), schema=schema)


def write_periods(
    conn: psycopg.Connection,
    rows: pl.DataFrame,
    period_type: str,
    start: datetime,
    end: datetime,
    items: Sequence[str] | None,
    report: LoadReport,
) -> None:
    """Make the stored rows of `period_type` starting in [start, end) (for `items`, or all) equal
    `rows` (period_rows: as stored)."""
    params = {"period_type": period_type, "start": start, "end": end, "items": list(items) if items is not None else None}
    deleted = 0
    if not conn.execute(load_sql("any_period_rows"), params).fetchone()[0]:
        # Nothing stored in the span (a first backfill, a new hour): the rows go straight into the
        # table, with no staging table, upsert or search for stale rows (4.6 s became 3.7 s for the
        # 1M-row backfill's period rows, bench/README.md).
        # The write lock keeps the span empty until commit.
        # Ids that grow in write order append to the primary-key index instead of landing at random
        # places in it (transforms/ids.py: a quarter to a third of this COPY's time).
        version = conn.execute("select current_setting('analytics.definitions_version', true)").fetchone()[0]
        ids = ordered_ids(rows.height, time.time_ns() // 1_000_000, secrets.randbits(128))
        copy_frame(conn, "event_analytics", rows.with_columns(ids, pl.lit(version, pl.String).alias("definitions_version")))
        written = rows.height
    else:
        conn.execute("truncate stage_periods")
        copy_frame(conn, "stage_periods", rows)
        # Temp tables have no statistics until analysed; without them the anti-join below loops.
        conn.execute("analyze stage_periods (event_id, period_type, period_start)")
        written = conn.execute(load_sql("upsert_period_rows")).rowcount
        # The target's statistics lag while a run grows it, and a misestimated anti-join becomes a
        # nested loop over every staged row: force the hash join for this one statement.
        conn.execute("set local enable_nestloop = off")
        deleted = conn.execute(load_sql("delete_stale_period_rows"), params).rowcount
        conn.execute("set local enable_nestloop = on")
    note_periods(period_type, start, end, rows["event_id"].unique().to_list())
    report.rows_written[period_type] = report.rows_written.get(period_type, 0) + written
    report.rows_deleted[period_type] = report.rows_deleted.get(period_type, 0) + deleted


def read_periods(
    conn: psycopg.Connection, period_type: str, start: datetime, end: datetime, items: Sequence[str] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    params = {"period_type": period_type, "start": start, "end": end, "items": list(items) if items is not None else None}
    return (
        read_frame(conn, "read_period_rows", params, PERIOD_METRICS),
        read_frame(conn, "read_period_breakdowns", params, BREAKDOWNS),
    )


def replace_hours(
    conn: psycopg.Connection,
    prepared: PreparedWindow,
    start: datetime,
    end: datetime,
    timezone_name: str,
    report: LoadReport,
    scope: Sequence[str] | None = None,
) -> list[str]:
    """Replace the hour rows and visitor-hours in [start, end) of `scope` (all items when None),
    keeping all_time rows exact; return the items touched. `prepared` holds only `scope`'s items."""
    result = prepared.result
    # The replaced rows' breakdowns matter only summed per item (all-time deltas): summed by the database.
    scope_list = list(scope) if scope is not None else None
    replaced = {"period_type": "hour", "start": start, "end": end, "items": scope_list}
    old_hours = read_frame(conn, "read_period_rows", replaced, PERIOD_METRICS)
    old_breakdowns = read_frame(conn, "sum_item_breakdowns", replaced, BREAKDOWNS)
    items = sorted(set(old_hours["event_id"].to_list()) | set(result.hours["event_id"].to_list()))
    if not items:
        return []
    far_start, far_end = ALL_TIME_SPAN
    all_time, all_time_breakdowns = read_periods(conn, "all_time", far_start, far_end, items)
    sums, new_all_time_breakdowns = advance_all_time(
        all_time, all_time_breakdowns, (old_hours, old_breakdowns), (result.hours, result.breakdowns), timezone_name
    )
    write_periods(conn, prepared.hours, "hour", start, end, scope, report)

    conn.execute("truncate stage_decremented")
    conn.execute(load_sql("remove_visitor_hours"), {"start": start, "end": end, "items": scope_list})
    # Straight into the table (the window's rows were just removed), and the per-visitor counts
    # through a small staging table; both in primary-key order, so that their index inserts follow
    # each other through the index rather than jump around it.
    copy_frame(conn, "event_analytics_visitor_hours", prepared.visitor_hours)
    conn.execute("truncate stage_visitor_counts")
    copy_frame(conn, "stage_visitor_counts", prepared.visitor_counts)
    new_visitors = dict(conn.execute(load_sql("add_visitor_hours")).fetchall())
    departed = dict(conn.execute(load_sql("delete_departed_visitors")).fetchall())
    # All-time uniques move by the visitors an item gained and lost, so no count rescans its history.
    uniques = moved_uniques(items, all_time, new_visitors, departed)
    # The guard holds the stored all-time uniques to these (the visitors this transaction added and
    # removed, from the statements themselves): a recount per item would cost its whole history.
    note_all_time_uniques(dict(uniques.iter_rows()))
    facts = uniques.join(read_frame(conn, "read_all_time_facts", {"items": items}, VIEW_BOUNDS), on="event_id", how="left")
    all_time_rows = complete_all_time(sums, facts)
    write_periods(conn, period_rows(all_time_rows, new_all_time_breakdowns), "all_time", far_start, far_end, items, report)
    return items


def rebuild_all_time(conn: psycopg.Connection, items: list[str], timezone_name: str, report: LoadReport) -> None:
    """Recompute the all_time rows and all-time visitors of `items` from all their hour rows: the
    repair for all-time state that deltas cannot heal (its cost grows with history)."""
    far_start, far_end = ALL_TIME_SPAN
    hours, breakdowns = read_periods(conn, "hour", far_start, datetime(9999, 1, 1, tzinfo=UTC), items)
    empty_rows, empty_breakdowns = pl.DataFrame(schema=PERIOD_METRICS), pl.DataFrame(schema=BREAKDOWNS)
    sums, all_time_breakdowns = advance_all_time(
        empty_rows, empty_breakdowns, (empty_rows, empty_breakdowns), (hours, breakdowns), timezone_name
    )
    conn.execute(load_sql("clear_visitors"), {"items": items})
    conn.execute(load_sql("rebuild_visitors"), {"items": items})
    uniques = pl.DataFrame(
        conn.execute(load_sql("count_visitors"), {"items": items}).fetchall(),
        schema={"event_id": pl.String, "unique_views_count": pl.Int64},
        orient="row",
    )
    facts = uniques.join(read_frame(conn, "read_all_time_facts", {"items": items}, VIEW_BOUNDS), on="event_id", how="right")
    all_time_rows = period_rows(complete_all_time(sums, facts), all_time_breakdowns)
    write_periods(conn, all_time_rows, "all_time", far_start, far_end, items, report)


def roll_up(
    conn: psycopg.Connection,
    hour_starts: pl.Series,
    items: list[str],
    period_types: Sequence[str],
    timezone_name: str,
    report: LoadReport,
    rolled_up: dict[str, pl.DataFrame] | None = None,
) -> None:
    """Recompute the day/week/month rows of `items` for the periods that contain the given hours:
    the rows `rolled_up` holds for a type (a window's own, PreparedWindow), else from the hour rows
    and visitor-hours stored for them."""
    for period_type in period_types:
        span = period_span(hour_starts, period_type, timezone_name)
        if span is None or not items:
            continue
        start, end = span
        if rolled_up and period_type in rolled_up:
            rows = rolled_up[period_type]
        else:
            rows = period_rows(*roll_up_stored(conn, hour_starts, items, period_type, timezone_name))
        write_periods(conn, rows, period_type, start, end, items, report)


def roll_up_stored(
    conn: psycopg.Connection, hour_starts: pl.Series, items: list[str], period_type: str, timezone_name: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Period rows and breakdowns of `items` for the periods containing the hours, from the stored
    rows: the additive columns from the source rows, breakdowns and uniques summed and counted by
    the database (a visitor-hour or breakdown key read one by one costs more than counting it there)."""
    # Weeks and months are sums of days, 24 times fewer rows than hours: whoever rolls them up
    # rolls up their days first (the daily flow in the same transaction, a backfill in its chunks).
    source = "day" if period_type in ("week", "month") else "hour"
    spans = period_spans(hour_starts, period_type, timezone_name)
    start, end = spans["period_start"].min(), spans["period_end"].max()
    rows = read_frame(conn, "read_period_rows", {"period_type": source, "start": start, "end": end, "items": items}, PERIOD_METRICS)
    bounds = {"starts": spans["period_start"].to_list(), "ends": spans["period_end"].to_list(), "items": items}
    uniques = read_frame(conn, "count_period_visitors", bounds, PERIOD_UNIQUES)
    note_period_uniques(period_type, uniques.iter_rows())
    breakdowns = read_frame(conn, "sum_period_breakdowns", {**bounds, "period_type": period_type, "source_type": source}, BREAKDOWNS)
    periods = with_uniques(sum_periods(rows, period_type, timezone_name), uniques, period_type)
    return periods, breakdowns.sort("event_id", "period_start", "dimension", "key")


def refresh_summaries(conn: psycopg.Connection, items: list[str], as_of: datetime, timezone_name: str, report: LoadReport) -> None:
    """Rewrite the summary rows of `items` and of every item whose rolling figures are still moving."""
    end = as_of_hour(as_of, timezone_name)
    moving = [row[0] for row in conn.execute(load_sql("read_summary_items"), {"as_of": end})]
    targets = sorted(set(items) | set(moving))
    if not targets:
        return
    far_start, far_end = ALL_TIME_SPAN
    all_time, all_time_breakdowns = read_periods(conn, "all_time", far_start, far_end, targets)
    # The rolling figures are summed and counted by the database: 30 days of hour rows and
    # visitor-hours read row by row cost most of an hourly run.
    windows = {f"start_{suffix}": end - length for suffix, length in ROLLING_WINDOWS.items()}
    recent = {**windows, "end": end, "items": targets}
    sums = read_frame(conn, "sum_recent_hours", recent, RECENT_SUMS)
    uniques = read_frame(conn, "count_recent_visitors", recent, RECENT_UNIQUES)
    recent_figures = sums.join(uniques, on="event_id", how="full", coalesce=True)
    summary = summarise_items(all_time, all_time_breakdowns, recent_figures, as_of, timezone_name)
    keyed = attach_breakdown_json(summary, all_time_breakdowns.drop("period_type", "period_start"), ["event_id"])
    conn.execute("truncate stage_summary")
    copy_frame(conn, "stage_summary", keyed.select(*SUMMARY.names(), "traffic_sources", "device_types"))
    report.rows_written["summary"] = report.rows_written.get("summary", 0) + conn.execute(load_sql("upsert_summaries")).rowcount
    note_summaries(targets)


@contextmanager
def analytics_transaction(conn: psycopg.Connection, shard: tuple[int, int] | None = None) -> Iterator[float]:
    """One transaction that holds the analytics write lock, reads times in UTC and has the staging tables;
    the rows written in it are checked against the invariants before it commits (flows/guards.py),
    and the items it touched are dropped from every cache before it returns (flows/invalidation.py).
    With `shard` (k, S), the transaction writes only the rows of item shard k of S (transforms/shards.py):
    it holds the write lock shared with other shards' writers, and the locks of the shard's item buckets.
    Yields the seconds spent waiting for the lock."""
    with invalidating_transaction(conn):
        asked = time.perf_counter()
        if shard is None:
            conn.execute(load_sql("lock_analytics_writes"), {"lock_key": WRITE_LOCK_KEY})
        else:
            buckets = shard_buckets(*shard)
            conn.execute(
                load_sql("lock_analytics_shard"), {"lock_key": WRITE_LOCK_KEY, "shard_class": SHARD_LOCK_CLASS, "buckets": buckets}
            )
        waited = time.perf_counter() - asked
        conn.execute("set local timezone = 'UTC'")
        conn.execute(load_sql("create_staging_tables"))
        with guarded_writes(conn):
            yield waited


def write_window(
    conn: psycopg.Connection,
    result: HourResult,
    start: datetime,
    end: datetime,
    *,
    timezone_name: str,
    roll_up_types: Sequence[str],
    as_of: datetime | None,
    scope: Sequence[str] | None = None,
    record: Callable[[psycopg.Connection, LoadReport], None] | None = None,
    prepared: PreparedWindow | None = None,
    shard: tuple[int, int] | None = None,
) -> LoadReport:
    """Write one computed window and everything derived from it, in one transaction.

    `scope` limits the rewrite to some items; `record` runs inside the same transaction (a
    backfill records the chunk as done there, so that done means written). `prepared` is `result`
    made ready by prepare_window before the lock (process_window does so); else it is made here.
    `shard` (k, S), with `scope` that shard's items, lets the writers of other shards run meanwhile.
    """
    report = LoadReport()
    with analytics_transaction(conn, shard) as report.lock_wait_seconds:
        if prepared is None:
            prepared = prepare_window(result.only(scope), start, end, roll_up_types, timezone_name)
        items = replace_hours(conn, prepared, start, end, timezone_name, report, scope)
        hours_in_window = pl.datetime_range(start, end, "1h", closed="left", eager=True, time_zone="UTC")
        roll_up(conn, hours_in_window, items, roll_up_types, timezone_name, report, rolled_up=prepared.rolled_up)
        if as_of is not None:
            refresh_summaries(conn, items, as_of, timezone_name, report)
        report.items = items
        if record is not None:
            verify_now(conn)
            record(conn, report)
    return report
