"""Late rows of any age, written by plain INSERTs, are counted by the next hourly run, exactly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import psycopg
import pytest

from flows import late
from flows.backfill import backfill
from flows.cli import main
from tests.flows.test_backfill import rows_of

ZONE = "Europe/Paris"
FIRST, LAST = date(2026, 10, 14), date(2026, 10, 28)
END = datetime(2026, 10, 27, 23, tzinfo=UTC)  # local midnight at the start of 2026-10-28
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"


def fill(url: str) -> None:
    from data.sample import generate_sample

    with psycopg.connect(url) as conn:
        generate_sample(conn, rows=4_000, days=14, seed=3, end=END, items=8)


def insert_late_rows(url: str) -> int:
    """What an app's offline queue or an import does: plain INSERTs of rows ten and twelve days old."""
    with psycopg.connect(url) as conn:
        item = conn.execute(
            "select event_id from event_analytics_events where event_id is not null group by 1 order by count(*) desc, 1 limit 1"
        ).fetchone()[0]
        known = conn.execute(
            "select session_id from event_analytics_events where event_id = %s and session_id is not null order by 1 limit 1", (item,)
        ).fetchone()[0]
        rows = [
            ("view", None, "late-visitor-1", "https://www.facebook.com/", IPHONE, "2026-10-17 10:12:00+00", {}),
            ("click", None, "late-visitor-1", "https://www.facebook.com/", IPHONE, "2026-10-17 10:14:30+00", {}),
            ("view", None, known, None, FIREFOX, "2026-10-17 10:40:00+00", {"time_on_page_seconds": 42}),
            ("view", None, "late-visitor-2", "https://news.example.org/a", FIREFOX, "2026-10-15 18:05:00+00", {"age_group": "25-34"}),
        ]
        for event_type, user_id, session_id, referrer, user_agent, timestamp, metadata in rows:
            conn.execute(
                "insert into event_analytics_events (event_id, event_type, user_id, session_id, referrer, user_agent, page_url, timestamp, metadata)"
                " values (%s, %s, %s, %s, %s, %s, 'https://example-events.com/e/1', %s, %s)",
                (item, event_type, user_id, session_id, referrer, user_agent, timestamp, json.dumps(metadata)),
            )
    return len(rows)


def last_report(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select report from event_analytics_runs where flow_name = 'hourly' order by started_at desc limit 1"
        ).fetchone()[0]


@pytest.mark.usefixtures("prefect_server")
def test_rows_ten_days_late_are_counted_by_the_next_hourly_run(
    database_url: str,
    clean_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    fill(database_url)
    backfill(start=FIRST, end=LAST, chunk_days=7)
    assert main(["run", "hourly", "--as-of", END.isoformat()]) == 0  # the first run sets the watermark
    before = rows_of(database_url)

    late_rows = insert_late_rows(database_url)
    # One hour per run at most: the two late hours take two runs, and the first says what it left.
    monkeypatch.setattr(late, "MAX_LATE_HOURS_PER_RUN", 1)
    assert main(["run", "hourly", "--as-of", END.isoformat()]) == 0
    report = last_report(database_url)
    assert report["late_rows"] == late_rows and report["late_hours_found"] == 2
    assert report["late_hours_recomputed"] == 1 and report["late_hours_left"] == 1
    assert main(["run", "hourly", "--as-of", END.isoformat()]) == 0
    report = last_report(database_url)
    assert report["late_rows"] == 0 and report["late_hours_recomputed"] == 1 and report["late_hours_left"] == 0
    after = rows_of(database_url)
    assert after != before

    # A clean run over the same raw rows, late ones included.
    fill(clean_database)
    insert_late_rows(clean_database)
    with monkeypatch.context() as patched:
        patched.setenv("DATABASE_URL", clean_database)
        backfill(start=FIRST, end=LAST, chunk_days=7)
    assert after == rows_of(clean_database)
    assert main(["check"]) == 0
