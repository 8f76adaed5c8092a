"""Visits are seen whole: a visit still going at the edge of the read context is followed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from flows.database import Database
from flows.extract import extract_raw_events, extract_with_visit_context
from flows.settings import load_settings
from flows.window import VISIT_CONTEXT, metric_config
from transforms.pipeline import compute_hours

DAY = datetime(2026, 6, 10, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
ITEM_X = "00000000-0000-4000-8000-00000000000a"
ITEM_Y = "00000000-0000-4000-8000-00000000000b"


@pytest.fixture
def long_visit(database_url: str) -> str:
    """One visitor browsing every 20 minutes from 00:00 to 06:00: one visit; item Y at 00:00 and 04:10."""
    rows = [(ITEM_X, DAY + timedelta(minutes=20 * i)) for i in range(1, 19)]
    rows += [(ITEM_Y, DAY), (ITEM_Y, DAY + timedelta(hours=4, minutes=10))]
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into events (id, title) values (%s, 'X'), (%s, 'Y')", (ITEM_X, ITEM_Y))
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into event_analytics_events (event_id, event_type, session_id, user_agent, \"timestamp\") values (%s, 'view', 'long-visitor', %s, %s)",
                [(item, CHROME, at) for item, at in rows],
            )
    return database_url


def test_a_visit_longer_than_the_context_is_followed_back_to_its_start(long_visit: str) -> None:
    settings = load_settings()
    config = metric_config(settings)
    start, end = DAY + timedelta(hours=4), DAY + timedelta(hours=5)
    rows, lower = extract_with_visit_context(Database(long_visit, settings), start, end, VISIT_CONTEXT, config)
    assert lower <= DAY  # followed back past the 02:00 edge to the visit's start
    followed = compute_hours(rows, start, end, config).hours
    whole = compute_hours(extract_raw_events(long_visit, DAY - timedelta(days=1), DAY + timedelta(days=1)), start, end, config).hours
    assert followed.equals(whole)
    # Item Y was first viewed at 00:00 in this visit: the visit is not the 04:00 hour's.
    y = followed.filter(followed["event_id"] == ITEM_Y)
    assert y["views_count"].to_list() == [1] and y["visits_count"].to_list() == [0]

    cut = compute_hours(extract_raw_events(long_visit, start - VISIT_CONTEXT, end + VISIT_CONTEXT), start, end, config).hours
    assert cut.filter(cut["event_id"] == ITEM_Y)["visits_count"].to_list() == [1]  # what a fixed context would get wrong
