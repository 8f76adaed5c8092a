"""A read of raw rows racing retention's delete counts each row once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest

import flows.extract as extract_module
from data.sample import generate_sample
from flows.archive import archive_month, verify_month
from flows.database import Database
from flows.extract import extract_events, extract_raw_events
from flows.retention import delete_rows, select_rows
from flows.settings import Settings, load_settings

END = datetime(2026, 5, 15, tzinfo=UTC)
JANUARY = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=4_000, days=120, seed=13, end=END, items=10)
    return load_settings()


@pytest.mark.parametrize("archived_before_the_read", [True, False], ids=["archived-before-the-read", "first-part-during-the-read"])
def test_a_delete_between_the_database_read_and_the_archive_read_counts_each_row_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, archived_before_the_read: bool
) -> None:
    """Retention's delete commits, in its own connection, right after the raw rows were read."""
    url, root = settings.database_url, settings.archive_root
    db = Database(url, settings)
    start, end = JANUARY[0] + timedelta(days=10), JANUARY[1] + timedelta(days=10)
    expected = extract_raw_events(url, start, end)
    rows = select_rows(db, *JANUARY)

    def archive_january():
        archive_month(root, "2026-01", rows)
        return verify_month(root, "2026-01", rows)

    # Archived and verified, not deleted yet: the state retention is in just before its delete.
    verified = archive_january() if archived_before_the_read else None
    deleted: list[int] = []
    read_rows = extract_module.extract_raw_events

    def read_then_delete(*args, **kwargs):
        read = read_rows(*args, **kwargs)
        if not deleted:
            deleted.append(delete_rows(db, rows, verified or archive_january(), *JANUARY))
        return read

    monkeypatch.setattr(extract_module, "extract_raw_events", read_then_delete)

    extracted = extract_events(db, start, end)

    assert deleted == [rows.height] and rows.height > 500
    columns = expected.columns
    assert extracted.height == expected.height
    assert extracted.sort(columns, nulls_last=True).equals(expected.sort(columns, nulls_last=True))
    # And once the delete has happened, the same read gives the same rows.
    again = extract_events(db, start, end)
    assert again.sort(columns, nulls_last=True).equals(expected.sort(columns, nulls_last=True))
    assert pl.concat([again, expected]).height == 2 * expected.height
