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
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import recompute, scratch_database
from data.sample import generate_sample
from flows.settings import load_settings

NEEDED_COLUMNS = """event_id, event_type, user_id, session_id, referrer, user_agent, page_url, "timestamp",
    metadata ->> 'time_on_page_seconds', metadata ->> 'age_group', metadata ->> 'gender'"""


def floor_extract(url: str) -> None:
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(f"copy (select {NEEDED_COLUMNS} from event_analytics_events) to stdout (format binary)") as copy,
    ):
        for _ in copy:
            pass


def floor_load(url: str) -> tuple[int, float]:
    """COPY the result rows (as they are now) into an empty table; return how many and the seconds."""
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
    return rows, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--chunk-days", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    settings = load_settings()
    timings: dict[str, float] = {}
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with scratch_database(settings, keep=args.keep) as url:
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            generate_sample(conn, rows=args.rows, days=args.days, seed=1, end=end, items=args.items)
        timings["generate + COPY in"] = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")

        started = time.perf_counter()
        floor_extract(url)
        timings["floor: COPY raw columns out"] = time.perf_counter() - started

        started = time.perf_counter()
        recompute(url, settings, (end - timedelta(days=args.days)).date(), end.date(), args.chunk_days, end)
        timings["full recompute"] = time.perf_counter() - started

        result_rows, timings["floor: COPY result rows in"] = floor_load(url)

    floor = timings["floor: COPY raw columns out"] + timings["floor: COPY result rows in"]
    print(f"\n{args.rows:,} raw rows, {args.items} items, {args.days} days, chunks of {args.chunk_days} days; {result_rows:,} result rows")
    for label, seconds in timings.items():
        print(f"  {label:<32} {seconds:8.2f} s")
    print(f"  {'I/O floor (out + in)':<32} {floor:8.2f} s")
    print(f"  {'full recompute / floor':<32} {timings['full recompute'] / floor:8.2f} x   (target <= 2x)")
    print(f"  {'plan PL/pgSQL baseline (spec)':<32} {294.0:8.2f} s   (1M rows, 200 items, 120 days; seven counts only)")


if __name__ == "__main__":
    main()
