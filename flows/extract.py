"""Bulk reads of raw rows: ADBC into Arrow, one time window at a time."""

from __future__ import annotations

from datetime import datetime

import adbc_driver_postgresql.dbapi as adbc
import polars as pl

from flows.sql import load_sql
from transforms.schemas import RAW_EVENTS


def extract_raw_events(url: str, start: datetime, end: datetime, statement_timeout_seconds: int = 600) -> pl.DataFrame:
    """Raw rows with start <= timestamp < end, in the RAW_EVENTS shape."""
    with adbc.connect(url) as conn:
        with conn.cursor() as cursor:
            cursor.execute(f"set statement_timeout = {int(statement_timeout_seconds) * 1000}")
            cursor.execute(load_sql("extract_raw_events"), (start, end))
            table = cursor.fetch_arrow_table()
    return pl.from_arrow(table).cast(RAW_EVENTS)
