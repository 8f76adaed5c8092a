"""Writes are all-or-nothing and never interleave: a killed backend, a held lock, two runs at once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from data.sample import generate_sample
from flows.database import WRITE_LOCK_KEY, Database
from flows.extract import extract_raw_events
from flows.load import analytics_transaction, write_window
from flows.runs import hourly
from flows.settings import load_settings
from flows.window import VISIT_CONTEXT, metric_config
from transforms.pipeline import compute_hours

END = datetime(2026, 6, 3, tzinfo=UTC)
START = END - timedelta(days=1)
AS_OF = END + timedelta(minutes=5)
STATE = {
    "hours": "select count(*), coalesce(sum(views_count), 0) from event_analytics where period_type = 'hour'",
    "all_time": "select count(*), coalesce(sum(views_count), 0), coalesce(sum(unique_views_count), 0) from event_analytics where period_type = 'all_time'",
    "days": "select count(*), coalesce(sum(views_count), 0) from event_analytics where period_type = 'day'",
    "visitors": "select count(*), coalesce(sum(hours_count), 0) from event_analytics_visitors",
    "visitor_hours": "select count(*) from event_analytics_visitor_hours",
    "summary": "select count(*), coalesce(sum(total_views), 0), coalesce(sum(views_24h), 0) from event_analytics_summary",
}


@pytest.fixture
def sampled(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=6_000, days=2, seed=3, end=END, items=25)
    return database_url


def state_of(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchone() for name, query in STATE.items()}


def load_once(url: str) -> None:
    settings = load_settings()
    raw = extract_raw_events(url, START - VISIT_CONTEXT, END + VISIT_CONTEXT)
    result = compute_hours(raw, START, END, metric_config(settings))
    with Database(url, settings).connect() as conn:
        write_window(conn, result, START, END, timezone_name=settings.timezone, roll_up_types=["day"], as_of=AS_OF)


def loader_pid(url: str, waiting_for: str, timeout: float = 30.0) -> int:
    """The pid of our loader's backend once it waits on a lock of the given type."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select a.pid from pg_stat_activity a join pg_locks l on l.pid = a.pid and not l.granted "
                "where a.application_name = 'event-analytics' and a.datname = current_database() and l.locktype = %s",
                (waiting_for,),
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError(f"no loader waited on a {waiting_for} lock within {timeout} s")


def test_a_backend_killed_mid_load_writes_nothing_and_the_rerun_completes(sampled: str) -> None:
    empty = state_of(sampled)
    some_item = psycopg.connect(sampled, autocommit=True).execute("select id from events order by id limit 1").fetchone()[0]
    blocker = psycopg.connect(sampled)
    # An uncommitted summary row for an item the load will touch: the load writes its hour, visitor,
    # all_time and day rows, then blocks on this row in its last step, where we kill it.
    blocker.execute("insert into event_analytics_summary (event_id) values (%s)", (some_item,))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            load_once(sampled)
        except BaseException as exc:  # noqa: BLE001 - the test inspects what the loader saw
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    pid = loader_pid(sampled, "transactionid")
    with psycopg.connect(sampled, autocommit=True) as admin:
        assert admin.execute("select pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    thread.join(60)
    blocker.rollback()
    blocker.close()
    assert errors and isinstance(errors[0], psycopg.OperationalError)
    assert state_of(sampled) == empty

    load_once(sampled)
    complete = state_of(sampled)
    assert complete["hours"][0] > 0 and complete["summary"][0] > 0
    load_once(sampled)
    assert state_of(sampled) == complete


def test_a_load_waits_for_the_write_lock(sampled: str) -> None:
    holder = psycopg.connect(sampled, autocommit=True)
    holder.execute("select pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
    thread = threading.Thread(target=load_once, args=(sampled,))
    thread.start()
    loader_pid(sampled, "advisory")
    assert state_of(sampled)["hours"] == (0, 0)
    holder.execute("select pg_advisory_unlock(%s)", (WRITE_LOCK_KEY,))
    holder.close()
    thread.join(60)
    assert state_of(sampled)["hours"][0] > 0


def test_shard_writers_go_side_by_side_and_every_other_writer_waits(sampled: str) -> None:
    """An item shard's write holds the write lock shared and its item buckets' locks: the writer of
    another shard goes on; a writer of the same shard, of a shard of another count that could hold
    the same items, or an unsharded writer (hourly, daily, summaries) waits."""

    def refused_within(shard: tuple[int, int] | None, seconds: float = 0.3) -> bool:
        with psycopg.connect(sampled) as conn:
            conn.execute(f"set lock_timeout = '{int(seconds * 1000)}ms'")
            try:
                with analytics_transaction(conn, shard):
                    return False
            except psycopg.errors.LockNotAvailable:
                return True

    with psycopg.connect(sampled) as holder, analytics_transaction(holder, (0, 2)):
        assert not refused_within((1, 2))
        assert not refused_within((1, 4))  # buckets 1, 5, 9, …: odd, none of shard 0 of 2's
        assert refused_within((0, 2))
        assert refused_within((1, 3))  # buckets 1, 4, 7, …: 4 is shard 0 of 2's
        assert refused_within(None)
    with psycopg.connect(sampled) as holder, analytics_transaction(holder, None):
        assert refused_within((1, 2))
    assert not refused_within((0, 2)) and not refused_within(None)


def test_two_overlapping_loads_give_the_rows_of_one(sampled: str) -> None:
    load_once(sampled)
    single = state_of(sampled)
    threads = [threading.Thread(target=load_once, args=(sampled,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert state_of(sampled) == single


@pytest.mark.usefixtures("prefect_server")
def test_the_flow_retries_a_killed_load_and_completes(sampled: str) -> None:
    some_item = psycopg.connect(sampled, autocommit=True).execute("select id from events order by id limit 1").fetchone()[0]
    blocker = psycopg.connect(sampled)
    blocker.execute("insert into event_analytics_summary (event_id) values (%s)", (some_item,))
    outcome: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("state", hourly(as_of=END + timedelta(minutes=5), lookback_hours=2, return_state=True))
    )
    thread.start()
    pid = loader_pid(sampled, "transactionid", timeout=120)
    with psycopg.connect(sampled, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (pid,))
    blocker.rollback()
    blocker.close()
    thread.join(180)
    assert outcome["state"].is_completed()
    assert state_of(sampled)["hours"][0] > 0
