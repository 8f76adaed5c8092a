"""No stale read after a flow returns: `analytics serve` runs as subprocesses with warm caches, real
flows run in this process, and the first read after each flow returns must show the flow's figures."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta

import psycopg
import pytest

from data.sample import generate_sample
from flows.backfill import backfill
from flows.runs import daily, hourly
from tests.service.conftest import REDIS_URL, USER_AGENTS, age_current_hour, closed_hour_as_of, current_hour


def stored_summary(url: str, item: str) -> dict:
    with psycopg.connect(url) as conn:
        return json.loads(
            conn.execute("select row_to_json(s)::text from event_analytics_summary s where event_id = %s", (item,)).fetchone()[0]
        )


def stored_day(url: str, item: str, day_start: datetime) -> dict:
    with psycopg.connect(url) as conn:
        text = conn.execute(
            "select row_to_json(a)::text from event_analytics a where event_id = %s and period_type = 'day' and period_start = %s",
            (item, day_start),
        ).fetchone()[0]
    return json.loads(text)


def busiest_item(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("select event_id::text from event_analytics_summary order by total_views desc, event_id limit 1").fetchone()[0]


def late_views(url: str, item: str, at: datetime, count: int) -> None:
    """Raw rows that arrive late for a past hour (an import, a delayed tracker)."""
    with psycopg.connect(url) as conn:
        for n in range(count):
            conn.execute(
                "insert into event_analytics_events (event_id, event_type, session_id, user_agent, timestamp) values (%s, 'view', %s, %s, %s)",
                (item, f"late-{uuid.uuid4().hex}", USER_AGENTS[n % 4], at + timedelta(minutes=n)),
            )


def track_views(service, item: str, views: int, clicks: int) -> None:
    with service.client() as http:
        for n in range(views + clicks):
            kind = "view" if n < views else "click"
            answer = http.post(
                f"/api/events/{item}/analytics/track",
                json={"event_type": kind, "session_id": f"e2e-{n}"},
                headers={"User-Agent": USER_AGENTS[n % 4]},
            )
            assert answer.status_code == 200, answer.text
    age_current_hour(os.environ["DATABASE_URL"])


def tracked_day() -> datetime:
    """The UTC day that views tracked now are stored in once aged into the last closed hour
    (age_current_hour): yesterday during the first hour of a day."""
    return (current_hour() - timedelta(hours=1)).replace(hour=0)


def day_params(day_start: datetime) -> dict:
    """One day row (today's ends tomorrow, after the default end_date of now)."""
    return {"period_type": "day", "start_date": day_start.isoformat(), "end_date": (day_start + timedelta(days=1)).isoformat()}


def warm(services, item: str, day_start: datetime) -> None:
    """Read every route twice through every service so that their caches hold the current figures."""
    for service in services:
        with service.client() as http:
            for _ in range(2):
                http.get(f"/api/events/{item}/analytics").raise_for_status()
                http.get(f"/api/events/{item}/analytics/periods", params=day_params(day_start)).raise_for_status()


def assert_fresh(services, url: str, item: str, day_start: datetime) -> dict:
    """The first read after the flow returned, through every service, equals the database."""
    expected_summary = stored_summary(url, item)
    expected_day = stored_day(url, item, day_start)
    for service in services:
        with service.client() as http:
            assert http.get(f"/api/events/{item}/analytics").json() == expected_summary
            days = http.get(f"/api/events/{item}/analytics/periods", params=day_params(day_start)).json()
            assert days[0] == expected_day
    return expected_summary


@pytest.fixture
def flowed_database(database_url: str, prefect_server) -> str:
    """Two days of sample rows up to the current hour, computed by the hourly flow."""
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=3000, days=2, seed=11, end=current_hour(), items=4)
    hourly(as_of=closed_hour_as_of(), lookback_hours=50)
    return database_url


def test_in_process_caches_of_two_services_show_every_flow_at_once(flowed_database, serve_factory):
    url = flowed_database
    services = [serve_factory(), serve_factory()]
    item = busiest_item(url)
    today = tracked_day()
    yesterday = today - timedelta(days=1)

    # hourly: rows tracked through the service, then the hourly flow over the current hour
    warm(services, item, today)
    before = stored_summary(url, item)["total_views"]
    track_views(services[0], item, views=7, clicks=2)
    hourly(as_of=closed_hour_as_of(), lookback_hours=1)
    assert assert_fresh(services, url, item, today)["total_views"] == before + 7

    # daily: late rows for yesterday, then the daily flow for yesterday
    warm(services, item, yesterday)
    late_views(url, item, yesterday + timedelta(hours=10), 5)
    daily(as_of=today + timedelta(minutes=5))
    assert assert_fresh(services, url, item, yesterday)["total_views"] == before + 12

    # backfill: more late rows for yesterday, then a backfill of yesterday for this item
    warm(services, item, yesterday)
    late_views(url, item, yesterday + timedelta(hours=11), 3)
    backfill(start=yesterday.date(), end=today.date(), event_ids=[item])
    assert assert_fresh(services, url, item, yesterday)["total_views"] == before + 15


@pytest.mark.parametrize("flow_knows_redis", [True, False], ids=["flow-drops-keys", "services-drop-keys"])
def test_a_redis_cache_shows_the_hourly_flow_at_once(flowed_database, serve_factory, monkeypatch, flow_knows_redis):
    url = flowed_database
    services = [serve_factory(REDIS_URL=REDIS_URL), serve_factory(REDIS_URL=REDIS_URL)]
    if flow_knows_redis:
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
    else:
        monkeypatch.delenv("REDIS_URL", raising=False)
    item = busiest_item(url)
    today = tracked_day()
    for views in (4, 6):
        warm(services, item, today)
        before = stored_summary(url, item)["total_views"]
        track_views(services[1], item, views=views, clicks=1)
        hourly(as_of=closed_hour_as_of(), lookback_hours=1)
        assert assert_fresh(services, url, item, today)["total_views"] == before + views


def test_with_no_service_running_a_flow_leaves_no_stale_redis_entry(flowed_database, serve_factory, monkeypatch):
    """A flow that does not know Redis runs while no service listens: the next service starts clean."""
    url = flowed_database
    monkeypatch.delenv("REDIS_URL", raising=False)
    item = busiest_item(url)
    today = tracked_day()
    first = serve_factory(REDIS_URL=REDIS_URL)
    warm([first], item, today)
    before = stored_summary(url, item)["total_views"]
    first.process.terminate()
    first.process.wait(timeout=30)
    late_views(url, item, current_hour() - timedelta(hours=1), 4)
    hourly(as_of=closed_hour_as_of(), lookback_hours=1)
    second = serve_factory(REDIS_URL=REDIS_URL)
    assert assert_fresh([second], url, item, today)["total_views"] == before + 4
