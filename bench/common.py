"""Shared bench helpers: scratch databases, and the flows' one window path without the Prefect API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from flows.backfill import finish_range, plan_backfill_chunks
from flows.database import Database, migrate, resolve_database
from flows.settings import Settings
from flows.window import process_window
from flows.windows import Window


@contextmanager
def scratch_database(settings: Settings, keep: bool = False, template: str | None = None) -> Iterator[str]:
    """A migrated database on the configured server, empty or a copy of `template`, dropped afterwards."""
    server = resolve_database(settings).url
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        if template:
            admin.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(template)))
        else:
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


def run_window(db: Database, window: Window, roll_up_types: list[str], as_of: datetime | None) -> dict[str, float]:
    """One window through the flows' own path (flows/window.py); the seconds of each stage and the items touched."""
    report = process_window(db, window, roll_up_types=roll_up_types, as_of=as_of)
    return {**report.seconds, "items": len(report.items)}


def recompute(db: Database, first: date, end: date, chunk_days: int, as_of: datetime) -> None:
    """A full recompute of [first, end): the backfill's chunks (as it plans them) and its finish, without the Prefect API."""
    items: set[str] = set()
    for window in plan_backfill_chunks(db, first, end, chunk_days, {}):
        items.update(process_window(db, window, roll_up_types=["day"], as_of=None).items)
    finish_range(db, first, end, sorted(items), ["week", "month"], as_of)
