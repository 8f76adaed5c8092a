"""Fixtures of the service tests: the app in this process, or `analytics serve` as a real subprocess,
against a fresh database (and a real Redis where the cache uses it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from flows.database import Database
from flows.settings import Settings
from service.app import create_app
from service.settings import ServiceSettings

REDIS_URL = os.environ.get("ANALYTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ANALYTICS = Path(sys.executable).parent / "analytics"
# Real browsers' strings: the flows classify devices from them.
USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
]


@pytest.fixture(params=["memory", "redis"])
def cache_kind(request: pytest.FixtureRequest) -> str:
    """Each cache the service can use; Redis is the real server on this machine (the test fails without it)."""
    if request.param == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
        except redis.RedisError as exc:
            pytest.fail(f"Redis does not answer at {REDIS_URL} ({exc}); start it or set ANALYTICS_TEST_REDIS_URL", pytrace=False)
    return request.param


def make_item(url: str, title: str = "a concert") -> str:
    """A new row of `events`; its id."""
    item = str(uuid.uuid4())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into events (id, title) values (%s, %s)", (item, title))
    return item


@pytest.fixture
def client_factory(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """TestClients of the app in this process (lifespan started: pool, cache, listener, writers)."""
    opened: list[TestClient] = []

    def open_client(**overrides) -> TestClient:
        client = TestClient(create_app(Database(database_url, Settings(database_url=database_url)), ServiceSettings(**overrides)))
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory) -> TestClient:
    return client_factory()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServiceProcess:
    """`analytics serve` running as a subprocess."""

    process: subprocess.Popen
    base_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)


def start_service(env: dict[str, str], timeout: float = 120) -> ServiceProcess:
    """Start `analytics serve` on a free port and wait until it answers and listens for invalidations."""
    port = free_port()
    process = subprocess.Popen(
        [str(ANALYTICS), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"analytics serve exited with {process.returncode}: {process.stdout.read()}")
        try:
            health = httpx.get(f"{base_url}/health", timeout=2).json()
            if health.get("listening") or health.get("cache") == "off":
                return ServiceProcess(process, base_url)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"analytics serve did not answer within {timeout} s")


def stop_service(service: ServiceProcess) -> None:
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGTERM)
        try:
            service.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@pytest.fixture
def serve_factory(database_url: str) -> Iterator[Callable[..., ServiceProcess]]:
    """Start `analytics serve` subprocesses on this test's database (extra environment as keywords)."""
    started: list[ServiceProcess] = []

    def start(**extra_env: str) -> ServiceProcess:
        env = {**os.environ, "DATABASE_URL": database_url, **extra_env}
        if "REDIS_URL" not in extra_env:
            env.pop("REDIS_URL", None)
        service = start_service(env)
        started.append(service)
        return service

    yield start
    for service in started:
        stop_service(service)


def current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def closed_hour_as_of() -> datetime:
    """Now: flows refuse an as_of in the future, so a flow computes hours up to the last closed one."""
    return datetime.now(UTC)


def age_current_hour(url: str) -> None:
    """Move the rows of the current hour one hour back, as if tracked an hour ago: only a closed
    hour is computed, and the current one closes only in the future."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "update event_analytics_events set timestamp = timestamp - interval '1 hour' where timestamp >= date_trunc('hour', now())"
        )
