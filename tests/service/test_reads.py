"""The read routes against a real PostgreSQL, with the in-process cache and with a real Redis: the
plan's answers, parameters refused by name, ETag revalidation, and invalidation at commit."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from flows.load import analytics_transaction
from service.cache import Entry, MemoryCache, RedisCache
from tests.service.conftest import REDIS_URL, make_item

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def put_period(conn: psycopg.Connection, item: str, period_type: str, start: datetime, end: datetime, views: int) -> None:
    conn.execute(
        "insert into event_analytics (event_id, period_type, period_start, period_end, views_count, unique_views_count, traffic_sources)"
        " values (%s, %s, %s, %s, %s, %s, %s)",
        (item, period_type, start, end, views, views // 2, json.dumps({"direct": views})),
    )


def put_summary(conn: psycopg.Connection, item: str, views: int) -> None:
    conn.execute(
        "insert into event_analytics_summary (event_id, total_views, total_unique_views, bounce_rate, traffic_sources) values (%s, %s, %s, 0.25, %s)"
        " on conflict (event_id) do update set total_views = excluded.total_views",
        (item, views, views // 2, json.dumps({"direct": views})),
    )


@pytest.fixture
def reader(client_factory, cache_kind):
    return client_factory(redis_url=REDIS_URL if cache_kind == "redis" else None)


def test_the_summary_is_the_stored_row(reader, database_url):
    item = make_item(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        put_summary(conn, item, 40)
    body = reader.get(f"/api/events/{item}/analytics").json()
    assert (body["event_id"], body["total_views"], body["total_unique_views"], body["bounce_rate"], body["traffic_sources"]) == (
        item,
        40,
        20,
        0.25,
        {"direct": 40},
    )


def test_an_unknown_item_gets_zeros_and_a_malformed_id_a_400(reader, database_url):
    item = str(uuid.uuid4())
    answer = reader.get(f"/api/events/{item}/analytics")
    assert answer.status_code == 200
    body = answer.json()
    assert body["event_id"] == item
    assert body["total_views"] == body["total_unique_views"] == body["total_clicks"] == body["views_30d"] == 0
    assert body["traffic_sources"] == {} and body["first_view_at"] is None
    bad = reader.get("/api/events/123/analytics")
    assert bad.status_code == 400 and "not a UUID" in bad.json()["error"]
    assert reader.get("/api/events/123/analytics/periods").status_code == 400


def test_periods_come_in_ascending_order_within_the_bounds(reader, database_url):
    item = make_item(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        for offset in (3, 0, 2, 1):  # inserted out of order
            put_period(conn, item, "day", DAY + timedelta(days=offset), DAY + timedelta(days=offset + 1), 10 + offset)
        put_period(conn, item, "hour", DAY, DAY + timedelta(hours=1), 99)
    rows = reader.get(
        f"/api/events/{item}/analytics/periods",
        params={"period_type": "day", "start_date": "2026-11-01", "end_date": "2026-11-04T00:00:00Z"},
    ).json()
    assert [(r["period_start"], r["views_count"]) for r in rows] == [
        ("2026-11-01T00:00:00+00:00", 10),
        ("2026-11-02T00:00:00+00:00", 11),
        ("2026-11-03T00:00:00+00:00", 12),
    ]
    everything = reader.get(f"/api/events/{item}/analytics/periods", params={"start_date": "2026-10-01"}).json()
    assert [r["views_count"] for r in everything] == [10, 11, 12, 13]  # day by default, end_date now
    assert (
        reader.get(f"/api/events/{item}/analytics/periods", params={"period_type": "hour", "start_date": "2026-11-01"}).json()[0][
            "views_count"
        ]
        == 99
    )


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"period_type": "year"}, "period_type"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-01"}, "end_date"),
        ({"start_date": "2026-11-02", "end_date": "2026-11-01"}, "start_date"),
        ({"period_type": "hour", "start_date": "2020-01-01"}, "start_date"),
    ],
    ids=["type", "start", "end", "reversed", "hour-span"],
)
def test_bad_period_parameters_get_a_400_naming_them(reader, database_url, params, named):
    item = make_item(database_url)
    answer = reader.get(f"/api/events/{item}/analytics/periods", params=params)
    assert answer.status_code == 400
    assert named in answer.json()["error"]


def test_reads_carry_an_etag_and_revalidate_with_a_304(reader, database_url):
    item = make_item(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        put_summary(conn, item, 5)
    for path in (f"/api/events/{item}/analytics", f"/api/events/{item}/analytics/periods"):
        first = reader.get(path)
        assert first.headers["cache-control"] == "no-cache" and first.headers["etag"].startswith('"')
        again = reader.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
        assert reader.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    stale = reader.get(f"/api/events/{item}/analytics").headers["etag"]
    with psycopg.connect(database_url, autocommit=True) as conn, analytics_transaction(conn):
        put_summary(conn, item, 6)
    fresh = reader.get(f"/api/events/{item}/analytics", headers={"If-None-Match": stale})
    assert fresh.status_code == 200 and fresh.json()["total_views"] == 6


def test_a_commit_through_analytics_transaction_is_read_at_once(reader, database_url):
    """The cache is primed with old figures; after the transaction returns, reads show the new ones."""
    items = [make_item(database_url) for _ in range(3)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for item in items:
            put_summary(conn, item, 1)
            put_period(conn, item, "day", DAY, DAY + timedelta(days=1), 1)
        for item in items:
            assert reader.get(f"/api/events/{item}/analytics").json()["total_views"] == 1
            assert reader.get(f"/api/events/{item}/analytics/periods", params={"start_date": "2026-11-01"}).json()[0]["views_count"] == 1
        for round_ in range(2, 6):
            with analytics_transaction(conn):
                conn.execute("update event_analytics_summary set total_views = %s where event_id = any(%s::uuid[])", (round_, items[:2]))
                conn.execute("update event_analytics set views_count = %s where event_id = %s", (round_, items[0]))
            assert [reader.get(f"/api/events/{item}/analytics").json()["total_views"] for item in items] == [round_, round_, 1]
            assert (
                reader.get(f"/api/events/{items[0]}/analytics/periods", params={"start_date": "2026-11-01"}).json()[0]["views_count"]
                == round_
            )


def test_a_rolled_back_write_invalidates_nothing_and_changes_nothing(reader, database_url):
    item = make_item(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        put_summary(conn, item, 3)
        etag = reader.get(f"/api/events/{item}/analytics").headers["etag"]
        with pytest.raises(RuntimeError), analytics_transaction(conn):
            put_summary(conn, item, 4)
            raise RuntimeError("the flow failed")
    answer = reader.get(f"/api/events/{item}/analytics", headers={"If-None-Match": etag})
    assert answer.status_code == 304


@pytest.fixture
def cache_under_test(cache_kind, database_url):
    if cache_kind == "memory":
        return MemoryCache(max_entries=100, ttl_seconds=60)
    return RedisCache(REDIS_URL, database_url.rsplit("/", 1)[1], ttl_seconds=60)


def test_an_answer_read_before_an_invalidation_is_never_stored_after_it(cache_under_test):
    """The reader's race: it reads old figures, the flow commits and invalidates, then it stores."""

    async def race() -> tuple[object, object, object]:
        cache = cache_under_test
        item = str(uuid.uuid4())
        _, tag_before = await cache.lookup(item, "summary")
        await cache.invalidate([item])  # the flow's commit lands while the database is read
        await cache.store(item, "summary", tag_before, Entry(b'{"total_views":1}', '"old"'))
        after_race, tag_now = await cache.lookup(item, "summary")
        await cache.store(item, "summary", tag_now, Entry(b'{"total_views":2}', '"new"'))
        fresh, _ = await cache.lookup(item, "summary")
        await cache.invalidate_all()
        dropped, _ = await cache.lookup(item, "summary")
        await cache.close()
        return after_race, fresh, dropped

    after_race, fresh, dropped = asyncio.run(race())
    assert after_race is None
    assert fresh == Entry(b'{"total_views":2}', '"new"')
    assert dropped is None


def test_health_docs_and_openapi_are_served_without_a_cdn(reader):
    health = reader.get("/health").json()
    assert health["database"] == "ok" and health["listening"] is True and health["cache"] in ("memory", "redis")
    spec = reader.get("/openapi.json").json()
    assert {
        "/api/events/{event_id}/analytics/track",
        "/api/events/{event_id}/analytics",
        "/api/events/{event_id}/analytics/periods",
    } <= set(spec["paths"])
    docs = reader.get("/docs").text
    assert "cdn" not in docs.lower()
    for asset in ("/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css"):
        assert asset in docs and reader.get(asset).status_code == 200


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("start_date=%00", 400),
        ("period_type=%ff%00", 400),
        ("end_date=9999-12-31T23:59:59-23:59", 400),
        ("start_date=0001-01-01T00:00:00%2B23:59", 400),
        ("start_date=2026-11-01T25:00", 400),
        ("start_date=" + "9" * 5000, 400),
        # Valid, if odd: the first days of year 1 (the default start would be before it).
        ("end_date=0001-01-01", 200),
        ("end_date=0001-01-02T00:00:00Z", 200),
    ],
    ids=["nul", "bad-bytes", "overflow-end", "overflow-start", "hour-25", "huge", "year-1", "default-start-before-year-1"],
)
def test_hostile_period_parameters_never_get_a_5xx(reader, database_url, query, status):
    item = make_item(database_url)
    answer = reader.get(f"/api/events/{item}/analytics/periods?{query}")
    assert answer.status_code == status, answer.text
    assert answer.json() == [] if status == 200 else answer.json()["error"]
