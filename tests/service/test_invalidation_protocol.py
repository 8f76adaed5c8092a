"""The flow side of invalidation against a real PostgreSQL: exactly the touched items are announced,
at commit only, and analytics_transaction returns only once every listening service confirmed."""

from __future__ import annotations

import logging
import threading

import psycopg
import pytest

from flows import invalidation
from flows.invalidation import ACK_CHANNEL, CHANNEL, SERVICE_APPLICATION_PREFIX
from flows.load import analytics_transaction
from tests.service.conftest import make_item


class FakeService(threading.Thread):
    """A listener named like a service; it records what it receives and answers pings unless `silent`."""

    def __init__(self, url: str, silent: bool = False) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"listen {CHANNEL}")
        self.conn.execute("select set_config('application_name', %s, false)", (SERVICE_APPLICATION_PREFIX + "fake",))
        self.silent = silent
        self.received: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            # Read the batch first: the connection cannot run a query while notifies() holds it.
            for note in list(self.conn.notifies(timeout=0.1)):
                self.received.append(note.payload)
                if note.payload.startswith("ping ") and not self.silent:
                    self.conn.execute("select pg_notify(%s, %s)", (ACK_CHANNEL, f"{note.payload[5:]} fake"))

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=10)
        self.conn.close()


@pytest.fixture
def fake_service(database_url):
    services = []

    def start(silent: bool = False) -> FakeService:
        service = FakeService(database_url, silent)
        service.start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.close()


def put_summary(conn: psycopg.Connection, item: str, views: int) -> None:
    conn.execute(
        "insert into event_analytics_summary (event_id, total_views) values (%s, %s) on conflict (event_id) do update set total_views = excluded.total_views",
        (item, views),
    )


def test_the_transaction_returns_after_the_service_got_exactly_the_touched_items(database_url, fake_service):
    items = sorted(make_item(database_url) for _ in range(3))
    with psycopg.connect(database_url, autocommit=True) as conn:
        for item in items:
            put_summary(conn, item, 1)
        service = fake_service()
        service.received.clear()
        with analytics_transaction(conn):
            put_summary(conn, items[0], 2)
            put_summary(conn, items[1], 2)
            conn.execute(
                "insert into event_analytics (event_id, period_type, period_start, period_end) values (%s, 'day', '2026-11-01', '2026-11-02')",
                (items[1],),
            )
        # Already there when the transaction returns: the items, then the ping it answered.
        received = list(service.received)
    assert len(received) == 2
    assert received[0] == f"items {items[0]} {items[1]}"
    assert received[1].startswith("ping ")


def test_a_rolled_back_transaction_announces_nothing(database_url, fake_service):
    item = make_item(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        service = fake_service()
        with pytest.raises(RuntimeError), analytics_transaction(conn):
            put_summary(conn, item, 5)
            raise RuntimeError("the flow failed")
        with analytics_transaction(conn):
            pass  # touches nothing: no notification, no ping
        received = list(service.received)
    assert received == []


def test_a_write_outside_analytics_transaction_is_announced_by_the_trigger(database_url, fake_service):
    items = sorted(make_item(database_url) for _ in range(250))
    service = fake_service()
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute("insert into event_analytics_summary (event_id, total_views) select unnest(%s::uuid[]), 1", (items,))
    with psycopg.connect(database_url, autocommit=True) as conn:
        # A round trip through the listener's queue: the ping arrives after the trigger's notifications.
        invalidation.wait_for_services(conn)
    announced = [item for payload in service.received if payload.startswith("items ") for item in payload.split()[1:]]
    assert sorted(announced) == items
    assert all(len(payload.encode()) < 8000 for payload in service.received)


def test_a_silent_service_is_named_in_a_warning_and_the_flow_goes_on(database_url, fake_service, monkeypatch, caplog):
    monkeypatch.setattr(invalidation, "ACK_WAIT_SECONDS", 0.5)
    item = make_item(database_url)
    fake_service(silent=True)
    with caplog.at_level(logging.WARNING, logger="flows.invalidation"), psycopg.connect(database_url, autocommit=True) as conn:
        with analytics_transaction(conn):
            put_summary(conn, item, 3)
        assert conn.execute("select total_views from event_analytics_summary where event_id = %s", (item,)).fetchone()[0] == 3
    assert "did not confirm" in caplog.text and "fake" in caplog.text
