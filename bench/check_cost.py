"""What `analytics check` costs on a computed history: each kind of drift's query, timed one by one,
then the command end to end as a user runs it.

    uv run python -m bench.check_cost --database perf10m      # a database a backfill has computed

The queries are the check's own (sql/queries/check_*.sql, with the parameters flows/check.py binds);
they read stored analytics only, never raw rows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from flows.database import Database, resolve_database
from flows.settings import load_settings
from flows.sql import load_sql
from transforms.consistency import DRIFT_KINDS
from transforms.periods import ALL_TIME_START


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="name of a database on the configured server, computed by a backfill")
    args = parser.parse_args()
    settings = load_settings()
    url = urlunsplit(urlsplit(resolve_database(settings).url)._replace(path=f"/{args.database}"))
    params = {"items": None, "tz": settings.timezone, "today": datetime.now(UTC).date(), "all_time_start": ALL_TIME_START}
    timings: dict[str, float] = {}
    with Database(url, settings).connect() as conn:
        sizes = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("event_analytics_events", "event_analytics", "event_analytics_visitor_hours", "event_analytics_visitors")
        }
        for kind in DRIFT_KINDS:
            started = time.perf_counter()
            found = len(conn.execute(load_sql(f"check_{kind}"), params).fetchall())
            timings[f"{kind} ({found} drifted)"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(load_sql("check_stale_rows"), {"items": None}).fetchall()
        timings["stale rows (definition versions)"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(load_sql("check_all_time_state"), {"items": None}).fetchall()
        timings["all-time state (a backfill's check before its chunks)"] = time.perf_counter() - started
    command = [str(Path(sys.executable).with_name("analytics")), "check"]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started

    print(", ".join(f"{table} {rows:,}" for table, rows in sizes.items()) + f"; load average {os.getloadavg()[0]:.1f}")
    for label, seconds in timings.items():
        print(f"  {label:<60} {seconds:8.2f} s")
    kinds = sum(seconds for label, seconds in timings.items() if label.split(" (")[0] in DRIFT_KINDS)
    print(f"  {'all kinds of drift':<60} {kinds:8.2f} s")
    print(f"  {'`analytics check`, wall clock (exit ' + str(done.returncode) + ')':<60} {wall:8.2f} s")
    print("  its last line: " + (done.stdout.strip().splitlines() or [""])[-1][:300])


if __name__ == "__main__":
    main()
