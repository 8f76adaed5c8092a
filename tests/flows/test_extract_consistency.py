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


def test_a_delete_between_the_database_read_and_the_archive_read_counts_each_row_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention's delete commits, in its own connection, right after the raw rows were read."""
    url, root = settings.database_url, settings.archive_root
    start, end = JANUARY[0] + timedelta(days=10), JANUARY[1] + timedelta(days=10)
    expected = extract_raw_events(url, start, end)
    # January is archived and verified, not deleted yet: the state retention is in just before its delete.
    rows = select_rows(url, settings, *JANUARY)
    archive_month(root, "2026-01", rows)
    verified = verify_month(root, "2026-01", rows)

    deleted: list[int] = []
    list_parts = extract_module.partition_files

    def delete_then_list(*args, **kwargs):
        # The first look at the archive comes after the database rows were read, in old and new code alike.
        if not deleted:
            deleted.append(delete_rows(url, settings, rows, verified, *JANUARY))
        return list_parts(*args, **kwargs)

    monkeypatch.setattr(extract_module, "partition_files", delete_then_list)

    extracted = extract_events(url, settings, start, end)

    assert deleted == [rows.height] and rows.height > 500
    columns = expected.columns
    assert extracted.height == expected.height
    assert extracted.sort(columns, nulls_last=True).equals(expected.sort(columns, nulls_last=True))
    # And once the delete has happened, the same read gives the same rows.
    again = extract_events(url, settings, start, end)
    assert again.sort(columns, nulls_last=True).equals(expected.sort(columns, nulls_last=True))
    assert pl.concat([again, expected]).height == 2 * expected.height
