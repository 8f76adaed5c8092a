"""Guards: a write whose rows would break an invariant is rolled back whole and says which item and invariant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from data.sample import generate_sample
from flows import runs
from flows.cli import main
from flows.guards import InvariantBroken, WrittenRows, verify_written

END = datetime(2026, 10, 27, 23, tzinfo=UTC)

# A trigger stands in for a bug in the computation: it corrupts rows on their way into the table.
CORRUPTIONS = {
    "day-uniques": (
        "new.period_type = 'day'",
        "new.unique_views_count := new.unique_views_count + 1;",
        "day",
        "unique views equal the distinct visitors",
    ),
    "all-time-views": (
        "new.period_type = 'all_time'",
        "new.views_count := new.views_count + 1;",
        "all_time",
        "traffic sources and device types add up to views",
    ),
    "all-time-uniques": (
        "new.period_type = 'all_time'",
        "new.unique_views_count := new.unique_views_count + 1;",
        "all_time",
        "all-time unique views equal the all-time visitors",
    ),
    "hour-sources": (
        "new.period_type = 'hour' and new.views_count > 0",
        "new.traffic_sources := new.traffic_sources || '{\"injected\": 1}';",
        "hour",
        "traffic sources and device types add up to views",
    ),
}


def corrupt(url: str, condition: str, assignment: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"create function corrupt_row() returns trigger language plpgsql as $$ begin {assignment} return new; end $$")
        conn.execute(
            f"create trigger corrupt_row before insert or update on event_analytics for each row when ({condition}) execute function corrupt_row()"
        )


def stored(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("event_analytics", "event_analytics_summary", "event_analytics_visitors", "event_analytics_visitor_hours")
        }


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("corruption", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_a_write_that_breaks_an_invariant_stores_nothing(
    corruption: str, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    condition, assignment, period_type, invariant = CORRUPTIONS[corruption]
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=3_000, days=2, seed=5, end=END, items=6)
    corrupt(database_url, condition, assignment)
    monkeypatch.setattr(runs.window_task, "retry_delay_seconds", [0, 0])
    code = main(["run", "hourly", "--as-of", END.isoformat(), "--lookback-hours", "5"])
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert code == 1, err[-3000:]
    assert line.startswith("analytics: write rolled back, nothing stored: item "), err[-3000:]
    assert f", {period_type} " in line and invariant in line, line
    assert stored(database_url) == dict.fromkeys(stored(database_url), 0)


@pytest.mark.usefixtures("prefect_server")
def test_a_rolled_up_week_whose_uniques_change_on_the_way_in_stores_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Weeks are rolled up from stored rows, their uniques counted by the database: the guard holds
    # the stored row to that count.
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=3_000, days=2, seed=5, end=END, items=6)
    corrupt(database_url, "new.period_type = 'week'", "new.unique_views_count := new.unique_views_count - 1;")
    monkeypatch.setattr(runs.window_task, "retry_delay_seconds", [0, 0])
    code = main(["run", "daily", "--as-of", END.isoformat()])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1
    assert ", week " in line and "unique views equal the distinct visitors" in line, line
    assert stored(database_url) == dict.fromkeys(stored(database_url), 0)


@pytest.fixture
def daily_run(database_url: str, prefect_server: None) -> str:
    """The database after `analytics run daily` over a small sample: the rows a guarded write stored."""
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=3_000, days=2, seed=5, end=END, items=6)
    assert main(["run", "daily", "--as-of", END.isoformat()]) == 0
    return database_url


def test_guarded_writes_pass_on_a_clean_run(daily_run: str) -> None:
    assert stored(daily_run)["event_analytics"] > 0


BREAKDOWN_CORRUPTIONS = {
    # An array around the right object: a lax path query would unwrap it and find the right sum.
    "array-around-the-object": "jsonb_build_array(device_types)",
    "a-count-as-text": "jsonb_build_object('desktop', views_count::text)",
    "a-scalar": "to_jsonb(views_count)",
    # SQL NULL: the guard sums each distinct object once, and its lookup of the rows must still find this one.
    "a-null": "null",
}


@pytest.mark.parametrize("corrupted", [None, *BREAKDOWN_CORRUPTIONS], ids=["untouched", *BREAKDOWN_CORRUPTIONS])
def test_the_guard_holds_breakdowns_to_objects_of_numbers(corrupted: str | None, daily_run: str) -> None:
    # Reads in the flows themselves fail on such values before the guard is reached, so the guard's
    # own query is run on stored rows changed by hand, in a transaction that is then rolled back.
    with psycopg.connect(daily_run) as conn:
        item, day = conn.execute(
            "select event_id::text, period_start from event_analytics where period_type = 'day' and views_count > 0 limit 1"
        ).fetchone()
        if corrupted is not None:
            expression = BREAKDOWN_CORRUPTIONS[corrupted]
            conn.execute(
                f"update event_analytics set device_types = {expression} where event_id = %s and period_type = 'day' and period_start = %s",
                (item, day),
            )
        written = WrittenRows(spans=[("day", day, day + timedelta(days=1))], items={item})
        if corrupted is None:
            verify_written(conn, written)
        else:
            with pytest.raises(InvariantBroken, match="traffic sources and device types add up to views"):
                verify_written(conn, written)
        conn.rollback()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("device_types", "jsonb_build_object('desktop', views_count + 1)"),
        ("device_types", "null"),
        ("views_count", "null"),
    ],
    ids=["a-wrong-sum", "a-null-breakdown", "null-views"],
)
def test_the_guard_names_the_one_hour_that_breaks_among_hours_alike(column: str, value: str, daily_run: str) -> None:
    # The guard sums the breakdowns of each distinct (traffic sources, device types, views) once, then
    # looks up the rows of the failing ones: one corrupted hour among hours that had the same three
    # values must be the one row found, whatever the rest of the written span holds.
    with psycopg.connect(daily_run) as conn:
        start, end, items = conn.execute(
            "select min(period_start), max(period_start) + interval '1 hour', array_agg(distinct event_id::text)"
            " from event_analytics where period_type = 'hour'"
        ).fetchone()
        # An hour of the most common (traffic sources, device types, views).
        item, hour, twins = conn.execute(
            "select event_id::text, period_start, count(*) over (partition by traffic_sources, device_types, views_count) as alike"
            " from event_analytics where period_type = 'hour' order by alike desc, period_start desc, event_id limit 1"
        ).fetchone()
        assert twins >= 3
        conn.execute(
            f"update event_analytics set {column} = {value} where event_id = %s and period_type = 'hour' and period_start = %s",
            (item, hour),
        )
        written = WrittenRows(spans=[("hour", start, end)], items=set(items))
        with pytest.raises(InvariantBroken, match="traffic sources and device types add up to views") as broken:
            verify_written(conn, written)
        assert f"item {item}, hour {hour.isoformat()} (of 1 rows found)" in str(broken.value)
        conn.rollback()
        verify_written(conn, written)
