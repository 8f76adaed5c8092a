"""Shared fixtures: a real PostgreSQL (DATABASE_URL's server, else the embedded one), one fresh
database per test cloned from a migrated template, and one Prefect test server per session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

import psycopg
import pytest
from psycopg import sql

from flows.database import migrate
from flows.settings import Settings

TEMPLATE_DATABASE = f"analytics_test_template_{os.getpid()}"


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (socket-directory URLs included)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL: DATABASE_URL's server when set, else an embedded server started for this session."""
    explicit = os.environ.get("DATABASE_URL")
    if explicit:
        try:
            psycopg.connect(explicit, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            pytest.fail(f"DATABASE_URL is set but its server does not answer: {exc}; start it or unset DATABASE_URL", pytrace=False)
        yield explicit
        return
    from flows.database import start_embedded_server, stop_embedded_server

    # Not under pytest's tmp_path: pytest prunes old base folders, even one a concurrent session's server runs in.
    settings = Settings(home=Path(tempfile.mkdtemp(prefix="analytics-test-")))
    yield start_embedded_server(settings)
    stop_embedded_server(settings)
    shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    """A migrated database that every test database is cloned from."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(TEMPLATE_DATABASE)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE_DATABASE)))
    url = with_database(server_url, TEMPLATE_DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(TEMPLATE_DATABASE)))


@pytest.fixture
def database_url(server_url: str, template_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh migrated database for one test, set as DATABASE_URL, dropped afterwards."""
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE_DATABASE)))
    url = with_database(server_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def scratch_database_url(server_url: str) -> Iterator[str]:
    """A fresh, empty (unmigrated) database, dropped afterwards."""
    name = f"analytics_scratch_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real Prefect API server (temporary database) for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
