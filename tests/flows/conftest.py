"""Fixtures shared by the flow tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import TEMPLATE_DATABASE, with_database


@pytest.fixture
def clean_database(server_url: str, template_url: str) -> Iterator[str]:
    """A second migrated database, for a clean run over the same raw rows."""
    name = f"analytics_clean_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE_DATABASE)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
