"""Retention never changes a figure: all-time rows survive a purge, and backfills read the archive."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from data.sample import generate_sample
from flows.backfill import backfill
from flows.retention import retention

END = datetime(2026, 9, 1, tzinfo=UTC)
FIRST, LAST = date(2026, 5, 1), date(2026, 9, 1)
PERIODS = "select event_id, period_type, period_start, period_end, views_count, unique_views_count, clicks_count, visits_count, bounced_visits_count, time_on_page_total_ms, time_on_page_views, first_view_at, last_view_at, traffic_sources::text, device_types::text, age_groups::text, views_by_hour_of_day::text from event_analytics order by 1, 2, 3"
SUMMARY = "select event_id, total_views, total_unique_views, total_clicks, total_shares, total_favorites, total_ticket_clicks, total_external_clicks, avg_time_on_page_seconds, bounce_rate, peak_hour, peak_day, first_view_at, last_view_at, traffic_sources::text, device_types::text from event_analytics_summary order by 1"


@pytest.fixture
def purgeable(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=6_000, days=120, seed=5, end=END, items=15)
    return database_url


def snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            "periods": conn.execute(PERIODS).fetchall(),
            "summary": conn.execute(SUMMARY).fetchall(),
            "raw": conn.execute("select count(*) from event_analytics_events").fetchall(),
        }


@pytest.mark.usefixtures("prefect_server")
def test_a_purge_changes_no_figure_and_a_backfill_after_it_gives_the_same_rows(purgeable: str) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=31)
    before = snapshot(purgeable)
    assert len(before["periods"]) > 1000

    report = retention(as_of=END)
    purged = snapshot(purgeable)
    assert report["totals"]["rows_deleted"] > 1000
    assert purged["raw"][0][0] == before["raw"][0][0] - report["totals"]["rows_deleted"]
    assert purged["periods"] == before["periods"]
    assert purged["summary"] == before["summary"]

    backfill(start=FIRST, end=LAST, chunk_days=31)
    after = snapshot(purgeable)
    assert after["periods"] == before["periods"]
    assert after["summary"] == before["summary"]


@pytest.mark.usefixtures("prefect_server")
def test_the_dry_run_command_prints_the_plan_and_changes_nothing(purgeable: str, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    before = snapshot(purgeable)
    assert main(["retention", "--dry-run", "--as-of", "2026-09-01T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "Retention dry run: nothing was written" in out and "| to archive |" in out
    assert snapshot(purgeable) == before
