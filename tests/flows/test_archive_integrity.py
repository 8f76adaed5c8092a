"""A damaged or tampered archive is refused, never read into figures; a copied part never doubles rows."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest

from data.sample import generate_sample
from flows.archive import (
    ARCHIVED_EVENTS,
    MANIFEST_NAME,
    ArchiveIntegrityError,
    archive_month,
    partition_dir,
    read_archived_events,
    read_archived_ids,
    record_unlisted_parts,
)
from flows.cli import main
from flows.database import Database
from flows.extract import extract_events
from flows.retention import retention
from flows.settings import Settings, load_settings

END = datetime(2026, 5, 15, tzinfo=UTC)
# Archived by a run at END: all of January, February up to the 14th.
PURGED = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 14, tzinfo=UTC))


@pytest.fixture
def archived(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Sample rows over 120 days, with everything before 2026-02-14 archived and deleted."""
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=4_000, days=120, seed=17, end=END, items=10)
    settings = load_settings()
    report = retention(as_of=END)
    assert report["totals"]["rows_deleted"] > 1_000
    return settings


def only_part(settings: Settings, month: str) -> Path:
    (part,) = partition_dir(settings.archive_root, month).glob("part-*.parquet")
    return part


def read_purged(settings: Settings) -> pl.DataFrame:
    return extract_events(Database(settings.database_url, settings), *PURGED)


def raw_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from event_analytics_events").fetchone()[0]


def edit_rows(part: Path) -> None:
    """Move the first row to another item and write the part back as valid Parquet."""
    rows = pl.read_parquet(part)
    other = rows.get_column("event_id").drop_nulls().unique().sort()
    rows.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(other[-1])).otherwise(pl.col("event_id")).alias("event_id")
    ).write_parquet(part)


def zero_bytes(part: Path) -> None:
    data = bytearray(part.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    part.write_bytes(bytes(data))


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(
    ("damage", "said"),
    [(edit_rows, "checksum"), (zero_bytes, "checksum"), (Path.unlink, "is missing")],
    ids=["edited-rows", "zeroed-bytes", "missing-part"],
)
def test_a_damaged_part_is_refused_with_its_name_and_what_to_do(archived: Settings, damage, said: str) -> None:
    part = only_part(archived, "2026-01")
    damage(part)

    with pytest.raises(ArchiveIntegrityError) as refused:
        read_purged(archived)

    message = str(refused.value)
    assert str(part) in message and said in message and "restore" in message
    assert "\n" not in message
    with pytest.raises(ArchiveIntegrityError):
        read_archived_events(archived.archive_root, *PURGED)


@pytest.mark.usefixtures("prefect_server")
def test_a_copied_part_never_doubles_rows(archived: Settings, caplog: pytest.LogCaptureFixture) -> None:
    before = read_purged(archived)
    part = only_part(archived, "2026-01")
    copy = part.with_name("part-copy.parquet")
    shutil.copyfile(part, copy)

    with caplog.at_level(logging.WARNING):
        unlisted = read_purged(archived)

    assert unlisted.height == before.height > 1_000
    assert "part-copy.parquet" in caplog.text and "not in the manifest" in caplog.text

    # Even listed (a manifest restored from elsewhere, say), the copy's rows are counted once.
    manifest_path = partition_dir(archived.archive_root, "2026-01") / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["parts"][copy.name] = manifest["parts"][part.name]
    manifest_path.write_text(json.dumps(manifest))
    listed = read_purged(archived)
    columns = before.columns
    assert listed.sort(columns, nulls_last=True).equals(before.sort(columns, nulls_last=True))


@pytest.mark.usefixtures("prefect_server")
def test_retention_refuses_a_month_whose_archive_is_damaged(archived: Settings) -> None:
    part = only_part(archived, "2026-02")
    zero_bytes(part)
    before = raw_count(archived.database_url)

    with pytest.raises(ArchiveIntegrityError, match=part.name):
        retention(as_of=END + timedelta(days=20))

    assert raw_count(archived.database_url) == before


@pytest.mark.usefixtures("prefect_server")
def test_archive_query_reads_unverified_parts_and_says_so(archived: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    part = only_part(archived, "2026-01")
    edit_rows(part)
    shutil.copyfile(only_part(archived, "2026-02"), part.with_name("part-copy.parquet"))
    capsys.readouterr()

    assert main(["archive", "query", "select count(*) as n from raw_events"]) == 0

    captured = capsys.readouterr()
    assert f"{part} fails verification" in captured.err
    assert "part-copy.parquet is not in the manifest" in captured.err
    assert "n" in captured.out


def test_parts_without_a_manifest_are_refused_until_recorded(tmp_path: Path) -> None:
    """An archive written before checksums were recorded is refused, then read once its parts are recorded."""
    rows = pl.DataFrame({"id": ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]}).with_columns(
        pl.lit(datetime(2026, 1, 5, tzinfo=UTC)).alias("timestamp"),
        *[pl.lit(None, dtype=pl.String).alias(name) for name in ARCHIVED_EVENTS if name not in ("id", "timestamp")],
    )
    archive_month(tmp_path, "2026-01", rows.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS))
    manifest = partition_dir(tmp_path, "2026-01") / MANIFEST_NAME
    manifest.unlink()

    with pytest.raises(ArchiveIntegrityError, match=f"holds 1 parts but no {MANIFEST_NAME}.*python -m flows.archive record"):
        read_archived_ids(tmp_path, "2026-01")

    assert len(record_unlisted_parts(tmp_path, "2026-01")) == 1
    assert sorted(read_archived_ids(tmp_path, "2026-01").to_list()) == rows.get_column("id").to_list()
