"""Bulk reads of raw rows: ADBC into Arrow, one time window at a time."""

from __future__ import annotations

from datetime import datetime

import adbc_driver_postgresql.dbapi as adbc
import polars as pl

from flows.archive import months_overlapping, partition_files, read_archived_events
from flows.settings import Settings
from flows.sql import load_sql
from transforms.schemas import RAW_EVENTS


def extract_events(url: str, settings: Settings, start: datetime, end: datetime) -> pl.DataFrame:
    """Raw rows of [start, end) from the database and, for purged ranges, from the Parquet archive."""
    rows = extract_raw_events(url, start, end, settings.statement_timeout_seconds)
    if not any(partition_files(settings.archive_root, month) for month in months_overlapping(start, end)):
        return rows
    from flows.retention import select_ids

    # A row can be in both between archiving and deleting (or after a crash there): count it once.
    archived = read_archived_events(settings.archive_root, start, end, exclude_ids=select_ids(url, settings, start, end))
    return pl.concat([rows, archived])


def extract_raw_events(url: str, start: datetime, end: datetime, statement_timeout_seconds: int = 600) -> pl.DataFrame:
    """Raw rows with start <= timestamp < end, in the RAW_EVENTS shape."""
    with adbc.connect(url) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"set statement_timeout = {int(statement_timeout_seconds) * 1000}")
            cursor.execute(load_sql("extract_raw_events"), (start, end))
            table = cursor.fetch_arrow_table()
    return pl.from_arrow(table).cast(RAW_EVENTS)
