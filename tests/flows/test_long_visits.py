"""Visits of any length are evaluated whole: a 5-day and a 3-day visit give the same rows whatever the chunking."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from data.sample import generate_sample
from flows.backfill import backfill
from tests.flows.test_backfill import reset, rows_of

ZONE = "Europe/Paris"
FIRST, LAST = date(2026, 6, 1), date(2026, 6, 9)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ITEM_X = "00000000-0000-4000-8000-0000000000a1"
ITEM_Y = "00000000-0000-4000-8000-0000000000a2"
ITEM_Z = "00000000-0000-4000-8000-0000000000a3"
EVERY = timedelta(minutes=20)


def visit_rows(visitor: str, begin: datetime, days: int, revisited: str) -> list[tuple]:
    """One visit, a row every 20 minutes for `days` days: `revisited` viewed at its start and near its end,
    item X viewed in between with a click now and then."""
    count = int(timedelta(days=days) / EVERY)
    rows = []
    for i in range(count):
        at = begin + i * EVERY
        if i in (0, count - 3):
            rows.append((revisited, "view", visitor, at))
        else:
            rows.append((ITEM_X, "click" if i % 7 == 0 else "view", visitor, at))
    return rows


@pytest.fixture
def long_visits(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    rows = visit_rows("five-day-visitor", datetime(2026, 6, 1, 6, 0, tzinfo=UTC), 5, ITEM_Y)
    rows += visit_rows("three-day-visitor", datetime(2026, 6, 4, 12, 10, tzinfo=UTC), 3, ITEM_Z)
    with psycopg.connect(database_url) as conn:
        # Ordinary short visits around them, so every chunk has other rows too.
        generate_sample(conn, rows=3_000, days=8, seed=3, end=datetime(2026, 6, 8, 22, tzinfo=UTC), items=10)
        conn.execute("insert into events (id, title) values (%s, 'X'), (%s, 'Y'), (%s, 'Z')", (ITEM_X, ITEM_Y, ITEM_Z))
        with conn.cursor() as cursor:
            cursor.executemany(
                'insert into event_analytics_events (event_id, event_type, session_id, user_agent, "timestamp") values (%s, %s, %s, %s, %s)',
                [(item, kind, visitor, CHROME, at) for item, kind, visitor, at in rows],
            )
    return database_url


def visits_of(url: str, item: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select views_count, visits_count from event_analytics where period_type = 'all_time' and event_id = %s", (item,)
        ).fetchone()


@pytest.mark.usefixtures("prefect_server")
def test_long_visits_give_identical_rows_with_one_day_chunks_and_one_chunk(long_visits: str) -> None:
    backfill(start=FIRST, end=LAST, chunk_days=(LAST - FIRST).days)
    whole = rows_of(long_visits)
    # Each long visit is one visit of its revisited item, which it viewed twice.
    assert visits_of(long_visits, ITEM_Y) == (2, 1)
    assert visits_of(long_visits, ITEM_Z) == (2, 1)
    assert visits_of(long_visits, ITEM_X)[1] == 2

    reset(long_visits)
    report = backfill(start=FIRST, end=LAST, chunk_days=1)
    assert report["chunks"] == 8
    by_day = rows_of(long_visits)
    for part in ("periods", "summary", "visitors"):
        assert by_day[part] == whole[part], part


@pytest.mark.usefixtures("prefect_server")
def test_a_long_visit_is_followed_back_into_the_archive(long_visits: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.retention import retention

    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    backfill(start=FIRST, end=LAST, chunk_days=1)
    before = rows_of(long_visits)
    # Rows older than 90 days before 2026-09-02 (the first days of the five-day visit) leave the database.
    report = retention(as_of=datetime(2026, 9, 2, tzinfo=UTC))
    assert report["totals"]["rows_deleted"] > 100
    with psycopg.connect(long_visits) as conn:
        assert conn.execute("select min(\"timestamp\") from event_analytics_events where session_id = 'five-day-visitor'").fetchone()[
            0
        ] >= datetime(2026, 6, 4, tzinfo=UTC)

    reset(long_visits)
    backfill(start=FIRST, end=LAST, chunk_days=1)
    after = rows_of(long_visits)
    for part in ("periods", "summary", "visitors"):
        assert after[part] == before[part], part
