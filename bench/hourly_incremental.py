"""The hourly run's cost follows new data, not history: the same rows per hour over a 10x longer history.

    uv run python -m bench.hourly_incremental --rows-per-day 4000 --days 31

Builds two scratch databases (D days and 10 x D days of history, same rows per day), computes
each history fully, then times hourly runs (last closed hour + 3 hours of lookback, summaries
refreshed) at the end of each. Prefect start-up is not part of the work and is left out.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import recompute, run_window, scratch_database
from data.sample import generate_sample
from flows.database import Database
from flows.settings import load_settings
from flows.windows import hourly_window


def time_hourly(days: int, rows_per_day: int, repeats: int, settings) -> tuple[float, dict]:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with scratch_database(settings) as url:
        db = Database(url, settings)
        with psycopg.connect(url) as conn:
            generate_sample(conn, rows=days * rows_per_day, days=days, seed=2, end=end, items=200)
        started = time.perf_counter()
        recompute(db, (end - timedelta(days=days)).date(), end.date(), 7, end)
        setup = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        runs = []
        for repeat in range(repeats):
            as_of = end + timedelta(minutes=5 + repeat)
            window = hourly_window(as_of, 3, settings.timezone)
            started = time.perf_counter()
            stages = run_window(db, window, ["day"], as_of)
            runs.append((time.perf_counter() - started, stages))
    median = statistics.median(seconds for seconds, _ in runs)
    print(
        f"  {days:>4} days, {days * rows_per_day:>9,} rows (history computed in {setup:.1f} s): hourly run median {median:.2f} s, last {runs[-1][1]}"
    )
    return median, runs[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows-per-day", type=int, default=4_000)
    # At least 30 days, so that both histories fill the 30-day rolling window the summaries read.
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings()
    print(f"hourly run on {args.days} and {args.days * 10} days of history, {args.rows_per_day:,} rows a day:")
    small, _ = time_hourly(args.days, args.rows_per_day, args.repeats, settings)
    large, _ = time_hourly(args.days * 10, args.rows_per_day, args.repeats, settings)
    print(f"  10x history / 1x history: {large / small:.2f} x   (target <= 1.3x)")


if __name__ == "__main__":
    main()
