"""Where a full recompute's time goes, statement by statement, in process (no Prefect API).

    uv run python -m bench.statements --template perf1m            # a copy of a database holding raw rows
    uv run python -m bench.statements --template perf1m --days 120

Runs the backfill's chunks as it plans them, one at a time, then its finish, through the flows' one
window path (bench.common.recompute), timing every statement the window path sends: each named
query of sql/queries by its name, COPY in by target table, other statements by their first words.
What is left of the wall clock is Python between statements (extract and compute included).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import recompute, scratch_database
from flows.database import Database
from flows.settings import load_settings
from flows.sql import SQL_DIR

SECONDS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def _names() -> dict[str, str]:
    return {path.read_text(encoding="utf-8").strip(): path.stem for path in (SQL_DIR / "queries").glob("*.sql")}


def _label(query: object, names: dict[str, str]) -> str:
    text = query.as_string(None) if hasattr(query, "as_string") else str(query)
    text = text.strip()
    if text in names:
        return names[text]
    words = " ".join(text.split()[:4])
    if words.startswith("copy ") and " from stdin" in text:
        return "COPY in " + text.split()[1]
    if words.startswith("copy (") and " to stdout" in text:
        inner = text[len("copy (") : text.rindex(") to stdout")].strip()
        for body, name in names.items():
            if inner.startswith(body[:60]):
                return "COPY out " + name
        return "COPY out " + " ".join(inner.split()[:3])
    return words


def instrument() -> None:
    """Time psycopg's execute and copy calls, by statement."""
    names = _names()
    execute, copy = psycopg.Connection.execute, psycopg.Cursor.copy

    def timed_execute(self, query, params=None, **kwargs):
        started = time.perf_counter()
        try:
            return execute(self, query, params, **kwargs)
        finally:
            label = _label(query, names)
            SECONDS[label] += time.perf_counter() - started
            CALLS[label] += 1

    class TimedCopy:
        def __init__(self, inner, label):
            self.inner, self.label = inner, label

        def __enter__(self):
            self.started = time.perf_counter()
            return self.inner.__enter__()

        def __exit__(self, *exc):
            try:
                return self.inner.__exit__(*exc)
            finally:
                SECONDS[self.label] += time.perf_counter() - self.started
                CALLS[self.label] += 1

    def timed_copy(self, statement, params=None, **kwargs):
        return TimedCopy(copy(self, statement, params, **kwargs), _label(statement, names))

    psycopg.Connection.execute = timed_execute
    psycopg.Cursor.copy = timed_copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", required=True, help="a database holding raw rows up to 2026-11-01")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--chunk-days", type=int, default=None, help="chunk length in days (default: sized by rows, as the CLI)")
    args = parser.parse_args()
    settings = load_settings()
    end = datetime(2026, 11, 1, tzinfo=UTC)
    first = (end - timedelta(days=args.days)).date()
    with scratch_database(settings, template=args.template) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        instrument()
        started = time.perf_counter()
        recompute(Database(url, settings), first, end.date(), args.chunk_days, end)
        wall = time.perf_counter() - started
    in_statements = sum(SECONDS.values())
    print(f"\nfull recompute {first} → {end.date()} in process: {wall:.2f} s, {in_statements:.2f} s in statements")
    for label, seconds in sorted(SECONDS.items(), key=lambda item: -item[1]):
        if seconds >= 0.05:
            print(f"  {label:<48} {seconds:7.2f} s  {seconds / wall:6.1%}  ({CALLS[label]} calls)")
    print(f"  {'Python between statements':<48} {wall - in_statements:7.2f} s  {(wall - in_statements) / wall:6.1%}")


if __name__ == "__main__":
    main()
