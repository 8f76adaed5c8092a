"""Bulk reads of raw rows: ADBC into Arrow, one time window at a time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import adbc_driver_postgresql.dbapi as adbc
import polars as pl

from flows.archive import months_overlapping, partition_files, read_archived_events
from flows.database import Database
from flows.sql import load_sql
from transforms.pipeline import MetricConfig, countable_rows
from transforms.schemas import RAW_EVENTS
from transforms.validation import EARLIEST_TIMESTAMP
from transforms.visits import visitors_reaching


def extract_with_visit_context(
    db: Database, start: datetime, end: datetime, context: timedelta, config: MetricConfig
) -> tuple[pl.DataFrame, datetime]:
    """Rows of [start, end) with `context` around them, reaching back as far as it takes for visitors
    whose visit was still going at the lower edge, so that every visit is seen whole; also the
    earliest instant read.

    Only the lower edge matters: rows after the window cannot change which period a visit belongs
    to, nor whether it bounced, once `context` covers one visit gap after it.
    """
    lower = start - context
    rows = extract_events(db, lower, end + context)
    open_visitors = open_visitors_at(rows, lower, start, db.settings.visit_gap_minutes, config)
    # Each step back doubles, with no cap: a visit of any length is found in a number of reads
    # that grows with the log of its length, and each read holds only the open visitors' rows.
    step = context
    while not open_visitors.is_empty() and lower > EARLIEST_TIMESTAMP:
        earlier_lower = max(lower - step, EARLIEST_TIMESTAMP)
        earlier = extract_visitor_events(db, open_visitors, earlier_lower, lower)
        lower, step = earlier_lower, step * 2
        rows = pl.concat([earlier, rows])
        chained = rows.filter(pl.col("visitor_key").is_in(open_visitors.implode()))
        open_visitors = open_visitors_at(chained, lower, start, db.settings.visit_gap_minutes, config)
    return rows, lower


def open_visitors_at(rows: pl.DataFrame, lower: datetime, start: datetime, gap_minutes: int, config: MetricConfig) -> pl.Series:
    """visitors_reaching over the rows of the only visitors it can name: those with a row within one
    gap of `lower` (a visit that begins later cannot have begun before it). Classifying and ordering
    just their rows, not the window's, keeps the context search a small part of a chunk's cost."""
    near_edge = pl.col("occurred_at") <= lower + timedelta(minutes=gap_minutes)
    candidates = rows.filter(near_edge).get_column("visitor_key").drop_nulls().unique()
    theirs = rows.filter(pl.col("visitor_key").is_in(candidates.implode()))
    return visitors_reaching(countable_rows(theirs, config), lower, start, gap_minutes)


def extract_visitor_events(db: Database, visitor_keys: pl.Series, start: datetime, end: datetime) -> pl.DataFrame:
    """Raw rows of [start, end) of the given visitors only, from the database and the archive."""
    keys = visitor_keys.drop_nulls()
    if any(partition_files(db.settings.archive_root, month) for month in months_overlapping(start, end)):
        # Archived ranges are read through extract_events (which counts a row in both places
        # once), a day at a time so that memory stays bounded by a day, not the range.
        wanted = pl.col("visitor_key").is_in(keys.implode())
        days = pl.datetime_range(start, end, "1d", closed="left", eager=True, time_zone="UTC").to_list()
        return pl.concat([extract_events(db, day, min(day + timedelta(days=1), end)).filter(wanted) for day in days])
    # A NUL cannot be in a database row, nor in the JSON that names the keys.
    named = json.dumps(keys.filter(~keys.str.contains("\x00", literal=True)).to_list())
    with adbc.connect(db.url) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"set statement_timeout = {int(db.settings.statement_timeout_seconds) * 1000}")
            cursor.execute(load_sql("extract_visitor_events"), (start, end, named))
            table = cursor.fetch_arrow_table()
    return pl.from_arrow(table).cast(RAW_EVENTS)


def extract_events(db: Database, start: datetime, end: datetime) -> pl.DataFrame:
    """Raw rows of [start, end) from the database and, for purged ranges, from the Parquet archive."""
    months = months_overlapping(start, end)

    def archive_touches_range() -> bool:
        return any(partition_files(db.settings.archive_root, month) for month in months)

    # Ids cost a text column per row, so they are read only where the archive may hold copies.
    rows = extract_raw_events(db.url, start, end, db.settings.statement_timeout_seconds, with_ids=archive_touches_range())
    # The archive is looked at only after the database read: a row deleted since then was archived
    # before its delete committed, and a row archived but not deleted yet has its id among `rows`.
    if not archive_touches_range():
        return rows.drop("id", strict=False)
    if "id" not in rows.columns:
        # The first part of these months was written during the read: read again, with ids.
        rows = extract_raw_events(db.url, start, end, db.settings.statement_timeout_seconds, with_ids=True)
    # The ids come from the same statement, so the same snapshot, as the rows: a row is counted once
    # even when retention archives or deletes it meanwhile, with no lock shared with retention.
    archived = read_archived_events(db.settings.archive_root, start, end, exclude_ids=rows.get_column("id"))
    return pl.concat([rows.drop("id"), archived])


def extract_raw_events(
    url: str, start: datetime, end: datetime, statement_timeout_seconds: int = 600, with_ids: bool = False
) -> pl.DataFrame:
    """Raw rows with start <= timestamp < end, in the RAW_EVENTS shape; with each row's id first when `with_ids`."""
    query = "extract_raw_events_with_ids" if with_ids else "extract_raw_events"
    with adbc.connect(url) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"set statement_timeout = {int(statement_timeout_seconds) * 1000}")
            cursor.execute(load_sql(query), (start, end))
            table = cursor.fetch_arrow_table()
    if with_ids:
        return pl.from_arrow(table).cast({"id": pl.String, **RAW_EVENTS}).select("id", *RAW_EVENTS.names())
    return pl.from_arrow(table).cast(RAW_EVENTS)
