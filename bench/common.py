"""Shared bench helpers: scratch databases and the flows' own work without the Prefect API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from flows.backfill import day_chunks, finish_range
from flows.database import migrate, resolve_database_url
from flows.runs import extract_window, load_window, metric_config
from flows.settings import Settings
from flows.windows import Window
from transforms.pipeline import compute_hours


@contextmanager
def scratch_database(settings: Settings, keep: bool = False) -> Iterator[str]:
    """A migrated, empty database on the configured server, dropped afterwards."""
    server = resolve_database_url(settings)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        yield url
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def run_window(url: str, settings: Settings, window: Window, roll_up_types: list[str], as_of: datetime | None) -> dict[str, float]:
    """Extract, compute and load one window as the flows do; return the seconds of each stage."""
    seconds = {}
    started = time.perf_counter()
    raw = extract_window.fn(url, window, settings)
    seconds["extract"] = time.perf_counter() - started
    started = time.perf_counter()
    result = compute_hours(raw, window.start, window.end, metric_config(settings))
    seconds["compute"] = time.perf_counter() - started
    started = time.perf_counter()
    loaded = load_window.fn(url, result, window, settings, roll_up_types, as_of)
    seconds["load"] = time.perf_counter() - started
    seconds["items"] = len(loaded.items)
    return seconds


def recompute(url: str, settings: Settings, first: date, end: date, chunk_days: int, as_of: datetime) -> None:
    """A full backfill of [first, end) as the backfill flow does it."""
    items: set[str] = set()
    for window in day_chunks(first, end, chunk_days, settings.timezone):
        raw = extract_window.fn(url, window, settings)
        result = compute_hours(raw, window.start, window.end, metric_config(settings))
        items.update(load_window.fn(url, result, window, settings, ["day"], None).items)
    finish_range(url, settings, first, end, sorted(items), ["week", "month"], as_of)
