"""Backfills: exact whatever the chunking, equal to hourly runs, resumable, on Dask too."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from data.sample import generate_sample
from flows import backfill as backfill_module
from flows import window as window_module
from flows.backfill import backfill, plan_backfill_chunks
from flows.cli import main
from flows.database import resolve_database
from flows.runs import hourly
from flows.settings import load_settings
from flows.windows import Window, day_window
from transforms.chunks import plan_chunks
from transforms.rollups import period_spans
from transforms.shards import item_shard

ZONE = "Europe/Paris"
FIRST, LAST = date(2026, 10, 21), date(2026, 10, 28)  # the 25-hour 2026-10-25 inside
END = datetime(2026, 10, 27, 23, tzinfo=UTC)  # local midnight at the start of 2026-10-28
PERIOD_COLUMNS = "event_id, period_type, period_start, period_end, views_count, unique_views_count, clicks_count, shares_count, favorites_count, ticket_clicks, external_url_clicks, visits_count, bounced_visits_count, time_on_page_total_ms, time_on_page_views, avg_time_on_page_seconds, bounce_rate, first_view_at, last_view_at, traffic_sources::text, device_types::text, age_groups::text, genders::text, views_by_hour_of_day::text, views_by_weekday::text"
SUMMARY_COLUMNS = "event_id, total_views, total_unique_views, total_clicks, total_shares, total_favorites, total_ticket_clicks, total_external_clicks, avg_time_on_page_seconds, bounce_rate, peak_hour, peak_day, first_view_at, last_view_at, traffic_sources::text, device_types::text"


@pytest.fixture
def sampled(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=8_000, days=8, seed=11, end=END, items=20)
    return database_url


def rows_of(url: str, period_types: tuple[str, ...] = ("hour", "day", "week", "month", "all_time")) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        periods = conn.execute(
            f"select {PERIOD_COLUMNS} from event_analytics where period_type = any(%s) order by event_id, period_type, period_start",
            (list(period_types),),
        ).fetchall()
        summary = conn.execute(f"select {SUMMARY_COLUMNS} from event_analytics_summary order by event_id").fetchall()
        visitors = conn.execute("select event_id, visitor_key, hours_count from event_analytics_visitors order by 1, 2").fetchall()
    return {"periods": periods, "summary": summary, "visitors": visitors}


def reset(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate event_analytics, event_analytics_summary, event_analytics_visitor_hours, event_analytics_visitors, event_analytics_backfills cascade"
        )


def test_the_first_chunk_is_held_to_a_quarter_and_a_resumed_plan_keeps_the_boundaries(
    sampled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows-sized chunks: the range's first chunk holds at most a quarter of ANALYTICS_CHUNK_ROWS
    (writing starts sooner); the others up to all of it. With chunks done, the rest is planned as
    the first plan had it, so that a resumed backfill counts the same chunks."""
    monkeypatch.setenv("ANALYTICS_CHUNK_ROWS", "4000")
    db = resolve_database(load_settings())
    with psycopg.connect(sampled) as conn:

        def rows_in(window: Window) -> int:
            return conn.execute(
                "select count(*) from event_analytics_events where timestamp >= %s and timestamp < %s", (window.start, window.end)
            ).fetchone()[0]

        planned = plan_backfill_chunks(db, FIRST, LAST, None, {})
        sizes = [rows_in(window) for window in planned]
    assert len(planned) >= 3, sizes
    assert sizes[0] <= 1_000 and all(size <= 4_000 for size in sizes[1:]) and max(sizes[1:]) > 1_000, sizes
    done = {planned[0].start.isoformat(): {"chunk_end": planned[0].end.isoformat()}}
    assert plan_backfill_chunks(db, FIRST, LAST, None, done) == planned[1:]


@pytest.mark.parametrize("count_days", [1, 2, 8])
def test_the_first_chunk_sized_from_the_first_days_counts_is_the_one_planned_from_all(
    sampled: str, monkeypatch: pytest.MonkeyPatch, count_days: int
) -> None:
    """The backfill sizes its first chunk from the first days' counts (then four times as many days,
    and so on) and plans the rest while that chunk computes: the chunks are those planned at once
    from every day's count, whether the first count settles the first chunk or not."""
    monkeypatch.setenv("ANALYTICS_CHUNK_ROWS", "4000")
    monkeypatch.setattr(backfill_module, "FIRST_COUNT_DAYS", count_days)
    db = resolve_database(load_settings())
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days)]
    with psycopg.connect(sampled) as conn:
        counts = dict(
            conn.execute("select (timestamp at time zone %s)::date, count(*) from event_analytics_events group by 1", (ZONE,)).fetchall()
        )
    at_once = [day_window(day, ZONE, length) for day, length in plan_chunks(days, counts, max_rows=4000, max_days=31, first_max_rows=1000)]
    assert len(at_once) >= 3, at_once

    plan = backfill_module.BackfillPlan(db, FIRST, LAST, None, {})
    first = plan.first()
    assert [first, *plan.rest()] == at_once
    # A resumed plan: the range's first chunk done, the next is sized as a full one.
    done = {at_once[0].start.isoformat(): {"chunk_end": at_once[0].end.isoformat()}}
    assert plan_backfill_chunks(db, FIRST, LAST, None, done) == at_once[1:]


@pytest.mark.usefixtures("prefect_server")
def test_chunk_sizes_and_hourly_runs_give_identical_rows(sampled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=1)
    by_day = rows_of(sampled)
    assert len(by_day["periods"]) > 500
    for chunk_days in (7, 3):
        reset(sampled)
        report = backfill(start=FIRST, end=LAST, chunk_days=chunk_days)
        assert report["chunks"] == -(-7 // chunk_days)
        assert rows_of(sampled) == by_day, f"{chunk_days}-day chunks"
    # Chunks sized by their rows (the default): 8,000 rows over 8 days, at most 2,500 rows a chunk.
    reset(sampled)
    monkeypatch.setenv("ANALYTICS_CHUNK_ROWS", "2500")
    report = backfill(start=FIRST, end=LAST)
    assert 3 <= report["chunks"] <= 7, report["chunks"]
    assert rows_of(sampled) == by_day, "chunks sized by rows"

    reset(sampled)
    # Hourly runs over every local hour of the range, a local day per run through the lookback.
    day = FIRST
    while day < LAST:
        window = day_window(day, ZONE)
        hours = int((window.end - window.start) / timedelta(hours=1))
        hourly(as_of=window.end, lookback_hours=hours - 1)
        day += timedelta(days=1)
    hourly_rows = rows_of(sampled, ("hour", "day", "all_time"))
    reference = rows_of_reference(by_day)
    assert hourly_rows["periods"] == reference
    assert hourly_rows["visitors"] == by_day["visitors"]


@pytest.mark.usefixtures("prefect_server")
def test_rows_written_straight_into_empty_spans_equal_the_upserted_ones(sampled: str) -> None:
    # Empty spans take COPY straight into event_analytics; stored ones the staged upsert, which
    # leaves rows whose figures did not change untouched. Both store the same rows, versioned.
    began = datetime.now(UTC)
    first = backfill(start=FIRST, end=LAST, chunk_days=3)
    ended = datetime.now(UTC)
    stored = rows_of(sampled)
    with psycopg.connect(sampled) as conn:
        hour_rows = conn.execute("select count(*) from event_analytics where period_type = 'hour'").fetchone()[0]
        versions = conn.execute("select array_agg(distinct coalesce(definitions_version, 'none')) from event_analytics").fetchone()[0]
        # Rows copied straight in carry time-ordered ids (UUIDv7, transforms/ids.py), stamped when written.
        ids = [row[0] for row in conn.execute("select id from event_analytics where period_type = 'hour'")]
    assert first["rows_written"]["hour"] == hour_rows > 500
    assert len(set(ids)) == hour_rows and {u.version for u in ids} == {7}
    stamps = [int.from_bytes(u.bytes[:6], "big") for u in ids]
    assert began.timestamp() * 1000 - 1 <= min(stamps) <= max(stamps) <= ended.timestamp() * 1000 + 1, (min(stamps), max(stamps))
    assert len(versions) == 1 and versions[0] != "none", versions
    again = backfill(start=FIRST, end=LAST, chunk_days=3, restart=True)
    assert again["rows_written"]["hour"] == 0, "the upsert rewrote rows whose figures had not changed"
    assert rows_of(sampled) == stored
    # A span holding other items' rows only is empty for the item written: its rows go straight in.
    with psycopg.connect(sampled) as conn:
        item = conn.execute("select event_id::text from event_analytics where period_type = 'hour' limit 1").fetchone()[0]
        conn.execute("delete from event_analytics where event_id = %s and period_type in ('hour', 'day')", (item,))
    backfill(start=FIRST, end=LAST, chunk_days=3, restart=True, event_ids=[item])
    assert rows_of(sampled) == stored


def rows_of_reference(rows: dict[str, list[tuple]]) -> list[tuple]:
    return [row for row in rows["periods"] if row[1] in ("hour", "day", "all_time")]


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("chunk_days", [2, None], ids=["2-day chunks", "chunks sized by rows"])
def test_an_interrupted_backfill_resumes_and_matches_an_uninterrupted_one(
    sampled: str, monkeypatch: pytest.MonkeyPatch, chunk_days: int | None
) -> None:
    monkeypatch.setenv("ANALYTICS_CHUNK_ROWS", "2500")
    first = backfill(start=FIRST, end=LAST, chunk_days=chunk_days)
    uninterrupted = rows_of(sampled)
    assert first["chunks"] >= 3
    reset(sampled)

    real_write = window_module.write_window
    failing_hour = datetime(2026, 10, 24, 22, tzinfo=UTC)  # local midnight starting 2026-10-25

    def fail_one_chunk(conn, result, start, end, **kwargs):
        if start <= failing_hour < end:
            raise RuntimeError("injected failure")
        return real_write(conn, result, start, end, **kwargs)

    monkeypatch.setattr(window_module, "write_window", fail_one_chunk)
    monkeypatch.setattr(backfill_module.backfill_chunk, "retry_delay_seconds", [0, 0])
    state = backfill(start=FIRST, end=LAST, chunk_days=chunk_days, return_state=True)
    assert state.is_failed()
    monkeypatch.setattr(window_module, "write_window", real_write)

    report = backfill(start=FIRST, end=LAST, chunk_days=chunk_days)
    assert report["chunks"] == first["chunks"] and report["chunks_resumed"] == first["chunks"] - 1
    assert rows_of(sampled) == uninterrupted
    again = backfill(start=FIRST, end=LAST, chunk_days=chunk_days)
    assert again["chunks_resumed"] == 0  # the finished backfill is not resumed: the same command recomputes
    assert rows_of(sampled) == uninterrupted


@pytest.mark.usefixtures("prefect_server")
def test_any_number_of_write_shards_gives_the_same_rows(sampled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=3)
    two = rows_of(sampled)
    for shards in ("1", "3"):
        reset(sampled)
        monkeypatch.setenv("ANALYTICS_WRITE_SHARDS", shards)
        backfill(start=FIRST, end=LAST, chunk_days=3)
        assert rows_of(sampled) == two, f"{shards} shards"


@pytest.mark.usefixtures("prefect_server")
def test_a_chunk_whose_one_shard_failed_is_not_done_and_its_rerun_completes_it(sampled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk's item shards commit on their own: with one shard failed, the other's rows are
    stored but the chunk is not recorded as done; the rerun computes it again, finds the committed
    shard's rows already right, and ends with the rows of an uninterrupted backfill."""
    backfill(start=FIRST, end=LAST, chunk_days=1)
    uninterrupted = rows_of(sampled)
    reset(sampled)

    real_write = window_module.write_window
    failing_day = day_window(date(2026, 10, 25), ZONE)

    def fail_shard_one(conn, result, start, end, **kwargs):
        if start == failing_day.start and kwargs.get("shard") == (1, 2):
            raise RuntimeError("injected failure")
        return real_write(conn, result, start, end, **kwargs)

    monkeypatch.setattr(window_module, "write_window", fail_shard_one)
    monkeypatch.setattr(backfill_module.backfill_chunk, "retry_delay_seconds", [0, 0])
    assert backfill(start=FIRST, end=LAST, chunk_days=1, return_state=True).is_failed()
    monkeypatch.setattr(window_module, "write_window", real_write)
    with psycopg.connect(sampled) as conn:
        stored = [
            row[0]
            for row in conn.execute(
                "select distinct event_id::text from event_analytics where period_type = 'hour' and period_start >= %s and period_start < %s",
                (failing_day.start, failing_day.end),
            )
        ]
    assert stored and {item_shard(item, 2) for item in stored} == {0}, "shard 0 committed, shard 1 did not"

    report = backfill(start=FIRST, end=LAST, chunk_days=1)
    assert report["chunks"] == 7 and report["chunks_resumed"] == 6
    assert rows_of(sampled) == uninterrupted


@pytest.mark.usefixtures("prefect_server")
def test_a_week_crossing_two_months_is_rolled_up_once_and_right(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finish rolls up a month per transaction; a week that starts in one month and ends in
    the next is rolled up by the first only (it was rolled up by both, the same rows twice)."""
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    monkeypatch.setenv("ANALYTICS_WRITE_SHARDS", "1")
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=3_000, days=12, seed=11, end=datetime(2026, 10, 7, 22, tzinfo=UTC), items=6)
    rolled: list[tuple[datetime, datetime]] = []
    real_roll_up = backfill_module.roll_up

    def counting_roll_up(conn, hour_starts, items, period_types, timezone_name, report, **kwargs):
        if "week" in period_types:
            rolled.extend(period_spans(hour_starts, "week", timezone_name).iter_rows())
        return real_roll_up(conn, hour_starts, items, period_types, timezone_name, report, **kwargs)

    monkeypatch.setattr(backfill_module, "roll_up", counting_roll_up)
    assert main(["backfill", "--start", "2026-09-26", "--end", "2026-10-08"]) == 0
    paris = [datetime(2026, 9, 20, 22, tzinfo=UTC), datetime(2026, 9, 27, 22, tzinfo=UTC), datetime(2026, 10, 4, 22, tzinfo=UTC)]
    assert sorted(start for start, _ in rolled) == paris, rolled
    # The week of 2026-09-28 holds days of both months, and its rows equal the sums of its days.
    with psycopg.connect(database_url) as conn:
        crossing = conn.execute(
            "select count(*), sum(views_count) from event_analytics where period_type = 'week' and period_start = %s", (paris[1],)
        ).fetchone()
        days = conn.execute(
            "select sum(views_count) from event_analytics where period_type = 'day' and period_start >= %s and period_start < %s",
            (paris[1], paris[2]),
        ).fetchone()[0]
    assert crossing[0] == 6 and crossing[1] == days > 0, (crossing, days)
    assert main(["check"]) == 0


@pytest.mark.usefixtures("prefect_server")
def test_a_backfill_of_some_items_leaves_the_others_alone(sampled: str) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=7)
    full = rows_of(sampled)
    with psycopg.connect(sampled) as conn:
        chosen = conn.execute(
            "select event_id::text from event_analytics where period_type = 'all_time' order by views_count desc limit 2"
        ).fetchall()
        chosen = [row[0] for row in chosen]
        conn.execute(
            "update event_analytics set views_count = views_count + 1000 where period_type = 'hour' and event_id::text <> all(%s)",
            (chosen,),
        )
        # Rows a backfill rebuilds from hours; all_time rows move by deltas and are left consistent.
        conn.execute("delete from event_analytics where period_type in ('day', 'week', 'month') and event_id::text = any(%s)", (chosen,))
    backfill(start=FIRST, end=LAST, event_ids=chosen, chunk_days=7)
    with psycopg.connect(sampled) as conn:
        bumped = conn.execute("select count(*) from event_analytics where period_type = 'hour' and views_count >= 1000").fetchone()[0]
    assert bumped > 0  # other items untouched
    restored = [row for row in rows_of(sampled)["periods"] if str(row[0]) in chosen]
    assert restored == [row for row in full["periods"] if str(row[0]) in chosen]


@pytest.mark.usefixtures("prefect_server")
def test_rebuild_all_time_repairs_all_time_state_that_deltas_cannot(sampled: str) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=7)
    reference = rows_of(sampled)

    def damage() -> None:
        with psycopg.connect(sampled) as conn:
            conn.execute(
                "update event_analytics set views_count = views_count + 999, traffic_sources = '{}' where period_type = 'all_time'"
            )
            conn.execute("delete from event_analytics_visitors where hours_count = 1")

    damage()
    backfill(start=FIRST, end=LAST, chunk_days=7)
    # Deltas would keep the damage: the backfill finds it first and recomputes those items from nothing.
    assert rows_of(sampled) == reference
    damage()
    report = backfill(start=FIRST, end=LAST, chunk_days=7, rebuild_all_time=True)
    assert report["rows_written"]["all_time"] > 0
    assert rows_of(sampled) == reference


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--start", "2026-10-02", "--end", "2026-10-01"], "start 2026-10-02 is not before end 2026-10-01"),
        (["--start", "2026-10-01", "--end", "2099-01-01"], "is in the future"),
        (["--start", "2026-10-01", "--end", "2026-10-02", "--period", "day,year"], "unknown period type 'year'"),
        (["--start", "2026-10-01", "--end", "2026-10-02", "--event", "not-a-uuid"], "event 'not-a-uuid' is not a UUID"),
        (["--start", "2026-10-01", "--end", "2026-10-02", "--chunk", "week"], "chunk 'week' is not a number of days"),
    ],
    ids=["start-after-end", "future", "period", "uuid", "chunk"],
)
def test_bad_parameters_fail_in_one_line_before_touching_the_database(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/unreachable")
    assert main(["backfill", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics backfill: ") and message in err and err.count("\n") == 1


@pytest.mark.usefixtures("prefect_server")
def test_a_local_dask_cluster_gives_the_rows_of_the_default_runner(sampled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL
    from prefect_dask import DaskTaskRunner

    backfill(start=FIRST, end=LAST, chunk_days=2)
    expected = rows_of(sampled)
    reset(sampled)
    # Dask worker processes must talk to this test's Prefect server, not start their own.
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True})
    report = backfill.with_options(task_runner=runner)(start=FIRST, end=LAST, chunk_days=2)
    assert report["chunks"] == 4
    assert rows_of(sampled) == expected
    assert os.environ["PREFECT_API_URL"] == PREFECT_API_URL.value()
