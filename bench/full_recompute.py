"""Full recompute of every period type vs the I/O floor, on generated data in a scratch database.

    uv run python bench/full_recompute.py --rows 1000000 --days 120 --chunk-days 7

Floor = a bare binary COPY of the needed raw columns to nowhere + a bare COPY of the result rows
into an empty table. The recompute runs the flows' own extract/compute/load functions (no
Prefect API, whose start-up is not part of the work).
"""

from __future__ import annotations

import argparse
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from data.sample import generate_sample
from flows.backfill import day_chunks, finish_range
from flows.database import migrate, resolve_database_url
from flows.runs import extract_window, load_window, metric_config
from flows.settings import load_settings
from transforms.pipeline import compute_hours

NEEDED_COLUMNS = """event_id, event_type, user_id, session_id, referrer, user_agent, page_url, "timestamp",
    metadata ->> 'time_on_page_seconds', metadata ->> 'age_group', metadata ->> 'gender'"""


def scratch_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def time_it(label: str, timings: dict[str, float]):
    class _Timer:
        def __enter__(self):
            self.started = time.perf_counter()

        def __exit__(self, *exc):
            timings[label] = time.perf_counter() - self.started

    return _Timer()


def floor_extract(url: str) -> None:
    with psycopg.connect(url) as conn, conn.cursor().copy(f"copy (select {NEEDED_COLUMNS} from event_analytics_events) to stdout (format binary)") as copy:
        for _ in copy:
            pass


def floor_load(url: str) -> int:
    """COPY the result rows (as they are now) into an empty table; return how many."""
    with psycopg.connect(url) as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy("copy event_analytics to stdout (format binary)") as copy:
            for block in copy:
                buffer.write(block)
        conn.execute("create temp table floor_target (like event_analytics including defaults)")
        started = time.perf_counter()
        with conn.cursor().copy("copy floor_target from stdin (format binary)") as copy:
            copy.write(buffer.getbuffer())
        conn.commit()
        elapsed = time.perf_counter() - started
        rows = conn.execute("select count(*) from floor_target").fetchone()[0]
    floor_load.elapsed = elapsed
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--chunk-days", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    settings = load_settings()
    server = resolve_database_url(settings)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = scratch_url(server, name)
    timings: dict[str, float] = {}
    try:
        end = datetime(2026, 11, 1, tzinfo=UTC)
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        with time_it("generate + COPY in", timings), psycopg.connect(url) as conn:
            generate_sample(conn, rows=args.rows, days=args.days, seed=1, end=end, items=args.items)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")

        with time_it("floor: COPY raw columns out", timings):
            floor_extract(url)

        config = metric_config(settings)
        first_day = (end - timedelta(days=args.days)).date()
        items: set[str] = set()
        with time_it("full recompute", timings):
            for window in day_chunks(first_day, end.date(), args.chunk_days, settings.timezone):
                raw = extract_window.fn(url, window, settings)
                result = compute_hours(raw, window.start, window.end, config)
                loaded = load_window.fn(url, result, window, settings, ["day"], None)
                items.update(loaded.items)
            finish_range(url, settings, first_day, end.date(), sorted(items), ["week", "month"], end)

        result_rows = floor_load(url)
        timings["floor: COPY result rows in"] = floor_load.elapsed
    finally:
        if not args.keep:
            with psycopg.connect(server, autocommit=True) as admin:
                admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    floor = timings["floor: COPY raw columns out"] + timings["floor: COPY result rows in"]
    print(f"\n{args.rows:,} raw rows, {args.items} items, {args.days} days, chunks of {args.chunk_days} days; {result_rows:,} result rows")
    for label, seconds in timings.items():
        print(f"  {label:<32} {seconds:8.2f} s")
    print(f"  {'I/O floor (out + in)':<32} {floor:8.2f} s")
    print(f"  {'full recompute / floor':<32} {timings['full recompute'] / floor:8.2f} x   (target <= 2x)")


if __name__ == "__main__":
    main()
