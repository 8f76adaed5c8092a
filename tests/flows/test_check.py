"""`analytics check`: drift made by hand is found through the CLI and `--repair` gives a clean run's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from data.sample import generate_sample
from flows.backfill import backfill
from flows.check import DriftFound, check
from flows.cli import main
from tests.flows.test_backfill import rows_of

ZONE = "Europe/Paris"
FIRST, LAST = date(2026, 10, 21), date(2026, 10, 28)  # the 25-hour 2026-10-25 inside
END = datetime(2026, 10, 27, 23, tzinfo=UTC)


def fill(url: str) -> None:
    with psycopg.connect(url) as conn:
        generate_sample(conn, rows=6_000, days=8, seed=7, end=END, items=12)


@pytest.fixture
def sampled(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    fill(database_url)
    return database_url


def clean_run_rows(url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple]]:
    """The rows of a backfill over the same raw rows in a fresh database."""
    fill(url)
    with monkeypatch.context() as patched:
        patched.setenv("DATABASE_URL", url)
        backfill(start=FIRST, end=LAST, chunk_days=7)
    return rows_of(url)


def items_by_views(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute(
                "select event_id::text from event_analytics where period_type = 'all_time' order by views_count desc, event_id"
            )
        ]


@pytest.mark.usefixtures("prefect_server")
def test_a_clean_run_passes_the_check(sampled: str, capsys: pytest.CaptureFixture[str]) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=1)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "check: no drift in 12 items" in out


@pytest.mark.usefixtures("prefect_server")
def test_hand_made_drift_is_found_and_repaired_to_a_clean_runs_rows(
    sampled: str, clean_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = clean_run_rows(clean_database, monkeypatch)
    backfill(start=FIRST, end=LAST, chunk_days=1)
    assert rows_of(sampled) == clean
    counted, broken_down, forgotten, untouched = items_by_views(sampled)[:4]
    with psycopg.connect(sampled) as conn:
        conn.execute(
            "update event_analytics set clicks_count = clicks_count + 3 where period_type = 'all_time' and event_id = %s", (counted,)
        )
        # A count moved from one source to another: the day still adds up to its views.
        day = conn.execute(
            "select period_start, traffic_sources from event_analytics where period_type = 'day' and event_id = %s and traffic_sources ? 'direct' order by views_count desc limit 1",
            (broken_down,),
        ).fetchone()
        conn.execute(
            "update event_analytics set traffic_sources = traffic_sources || jsonb_build_object('direct', (traffic_sources->>'direct')::int - 1, 'moved', 1)"
            " where period_type = 'day' and event_id = %s and period_start = %s",
            (broken_down, day[0]),
        )
        conn.execute("delete from event_analytics_visitors where event_id = %s", (forgotten,))
        before = conn.execute("select max(updated_at) from event_analytics where event_id = %s", (untouched,)).fetchone()[0]

    assert main(["check"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    period_sums = next(line for line in lines if line.startswith("check: period_sums:"))
    assert counted in period_sums and "1 rows in 1 items" in period_sums
    breakdown_sums = next(line for line in lines if line.startswith("check: breakdown_sums:"))
    assert broken_down in breakdown_sums and "1 rows in 1 items" in breakdown_sums
    visitor_state = next(line for line in lines if line.startswith("check: visitor_state:"))
    assert forgotten in visitor_state
    assert any(line.startswith("check: unique_counts:") and forgotten in line for line in lines)
    assert any(line.startswith("check: summaries:") and counted in line for line in lines)
    assert lines[-1].startswith("check: drift in ") and "analytics check --repair" in lines[-1]

    # The same through the flow, as the weekly deployment runs it: a failed run.
    state = check(return_state=True)
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), DriftFound)

    assert main(["check", "--repair"]) == 0
    assert "check: repaired 3 items; nothing drifts now" in capsys.readouterr().out
    assert rows_of(sampled) == clean
    with psycopg.connect(sampled) as conn:
        after = conn.execute("select max(updated_at) from event_analytics where event_id = %s", (untouched,)).fetchone()[0]
    assert after == before  # only the drifted items were recomputed
    assert main(["check"]) == 0


@pytest.mark.usefixtures("prefect_server")
def test_check_of_some_items_looks_only_at_them(sampled: str, capsys: pytest.CaptureFixture[str]) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=7)
    broken, healthy = items_by_views(sampled)[:2]
    with psycopg.connect(sampled) as conn:
        conn.execute(
            "update event_analytics set unique_views_count = views_count + 1 where period_type = 'hour' and event_id = %s", (broken,)
        )
    assert main(["check", "--event", healthy]) == 0
    capsys.readouterr()
    assert main(["check", "--event", broken, "--repair"]) == 1
    out = capsys.readouterr().out
    # Hour rows are the atoms: only their raw rows can recompute them, and check says how.
    assert "check: bounds:" in out and f"--event {broken}" in out and "analytics backfill --start 2026-10-" in out


def test_a_bad_item_id_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/unreachable")
    assert main(["check", "--event", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "analytics check: event 'nope' is not a UUID; pass item ids like 0b3c2a9e-5d1f-4c8e-9a7b-2f6d1e0c4b5a\n"


def truncate_analytics(url: str) -> None:
    """What an operator might do by hand: empty the analytics tables, leave the visitor state."""
    with psycopg.connect(url) as conn:
        conn.execute("truncate event_analytics, event_analytics_summary")


@pytest.mark.usefixtures("prefect_server")
def test_a_backfill_after_a_hand_truncation_gives_a_clean_runs_rows(sampled: str) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=1)
    reference = rows_of(sampled)
    truncate_analytics(sampled)
    backfill(start=FIRST, end=LAST, chunk_days=1)
    assert rows_of(sampled) == reference


@pytest.mark.usefixtures("prefect_server")
def test_a_backfill_that_cannot_mend_a_hand_truncation_stops_and_names_the_command(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=1)
    reference = rows_of(sampled)
    truncate_analytics(sampled)
    assert main(["backfill", "--start", "2026-10-24", "--end", "2026-10-26"]) == 1
    # Prefect logs the failed run to stderr too; the command's own line comes last.
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        line.startswith("analytics: backfill: the all-time state of 12 items")
        and "disagrees with their hour rows and visitor state" in line
    )
    command = line.split("`")[1]
    assert command == f"analytics backfill --start {FIRST} --end {LAST} --rebuild-all-time"
    with psycopg.connect(sampled) as conn:
        assert conn.execute("select count(*) from event_analytics").fetchone()[0] == 0  # stopped before writing
    assert main(command.split()[1:]) == 0
    assert rows_of(sampled) == reference
