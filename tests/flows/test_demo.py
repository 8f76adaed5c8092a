"""`analytics demo` end to end: a second run reuses the figures an earlier run computed."""

from __future__ import annotations

import psycopg
import pytest

from flows.cli import main

DAILY_RUNS = "select count(*), count(distinct window_start) from event_analytics_runs where flow_name = 'daily'"


def test_a_second_demo_reuses_the_days_already_computed(
    database_url: str, prefect_server: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--rows", "3000", "--days", "2", "--seed", "7"]) == 0
    with psycopg.connect(database_url) as conn:
        first_runs, first_days = conn.execute(DAILY_RUNS).fetchone()
        first_summaries = conn.execute(
            "select event_id, total_views, total_unique_views from event_analytics_summary order by 1"
        ).fetchall()
    assert first_runs == first_days >= 2
    capsys.readouterr()

    assert main(["demo", "--rows", "3000", "--days", "2", "--seed", "7"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # Rich wraps lines at the console's width
    with psycopg.connect(database_url) as conn:
        second_runs, _ = conn.execute(DAILY_RUNS).fetchone()
        second_summaries = conn.execute(
            "select event_id, total_views, total_unique_views from event_analytics_summary order by 1"
        ).fetchall()
    assert second_runs == first_runs, "the second demo ran the daily flow again for days it had computed"
    assert "reusing them" in out and "analytics backfill --start" in out
    assert second_summaries == first_summaries and first_summaries
