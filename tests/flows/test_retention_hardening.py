"""Retention stays safe whatever as_of it is given, and leaves rows the calendar cannot place alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from data.sample import generate_sample
from flows.retention import FUTURE_TOLERANCE, RetentionError, retention, retention_cutoffs
from flows.runs import hourly
from flows.settings import Settings, load_settings
from transforms.validation import REJECTION_REASONS

END = datetime(2026, 5, 15, tzinfo=UTC)
ARCHIVE_BEFORE = END - timedelta(days=90)
# Literals, because Python's datetime cannot hold 4713 BC.
OUT_OF_RANGE = ("9999-06-01 00:00:00+00", "4713-01-01 00:00:00+00 BC", "1969-12-31 23:59:59+00")


def fingerprint(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*), md5(string_agg(e::text, '|' order by id)) from event_analytics_events e").fetchone()


def insert_row(url: str, at: str | datetime, address: str = "203.0.113.77") -> str:
    """One valid view row at `at` (a timestamptz literal or an instant); return its id."""
    row_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute(
            'insert into event_analytics_events (id, event_id, event_type, session_id, ip_address, "timestamp") '
            "values (%s, (select id from events limit 1), 'view', %s, %s, %s::timestamptz)",
            (row_id, f"s-{row_id[:8]}", address, at if isinstance(at, str) else at.isoformat()),
        )
    return row_id


def stored(url: str, row_id: str) -> tuple | None:
    with psycopg.connect(url) as conn:
        return conn.execute('select host(ip_address), "timestamp"::text from event_analytics_events where id = %s', (row_id,)).fetchone()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    return load_settings()


@pytest.fixture
def sampled(settings: Settings) -> Settings:
    with psycopg.connect(settings.database_url) as conn:
        generate_sample(conn, rows=3_000, days=120, seed=7, end=END, items=10)
    return settings


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_future_as_of_is_refused_before_anything_is_read(sampled: Settings, dry_run: bool) -> None:
    before = fingerprint(sampled.database_url)

    with pytest.raises(RetentionError, match=r"as_of 2100-01-01T00:00:00\+00:00 is in the future") as refused:
        retention(as_of=datetime(2100, 1, 1, tzinfo=UTC), dry_run=dry_run)

    assert "\n" not in str(refused.value)
    assert fingerprint(sampled.database_url) == before
    assert not sampled.archive_root.exists()


@pytest.mark.usefixtures("prefect_server")
def test_no_row_younger_than_its_ages_by_the_real_clock_is_touched(settings: Settings) -> None:
    """An as_of inside the tolerance moves no cut-off past now minus the configured ages."""
    url = settings.database_url
    with psycopg.connect(url) as conn:
        generate_sample(conn, rows=200, days=2, seed=3, end=datetime.now(UTC) - timedelta(days=200), items=3)
    now = datetime.now(UTC)
    almost_old = insert_row(url, now - timedelta(days=settings.retention_days) + timedelta(minutes=3))
    almost_anonymisable = insert_row(url, now - timedelta(days=settings.anonymise_after_days) + timedelta(minutes=3), "198.51.100.9")
    old = insert_row(url, now - timedelta(days=settings.retention_days + 1))

    report = retention(as_of=now + FUTURE_TOLERANCE - timedelta(minutes=1))

    assert report["totals"]["rows_deleted"] > 200
    assert stored(url, old) is None
    assert stored(url, almost_old) is not None
    assert stored(url, almost_anonymisable)[0] == "198.51.100.9"


def test_the_cut_offs_are_never_later_than_the_clock_allows() -> None:
    settings = Settings(retention_days=90, anonymise_after_days=30)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)

    ahead = retention_cutoffs(now + timedelta(minutes=4), settings, now=now)
    behind = retention_cutoffs(now - timedelta(days=3), settings, now=now)

    assert (ahead.archive_before, ahead.anonymise_before) == (now - timedelta(days=90), now - timedelta(days=30))
    assert (behind.archive_before, behind.anonymise_before) == (now - timedelta(days=93), now - timedelta(days=33))
    with pytest.raises(RetentionError, match="as_of .* is in the future"):
        retention_cutoffs(now + FUTURE_TOLERANCE + timedelta(seconds=1), settings, now=now)


@pytest.mark.usefixtures("prefect_server")
def test_rows_the_calendar_cannot_place_are_counted_and_never_archived_or_deleted(sampled: Settings) -> None:
    url = sampled.database_url
    strays = {at: insert_row(url, at) for at in OUT_OF_RANGE}
    with psycopg.connect(url) as conn:
        placeable_old = conn.execute(
            'select count(*) from event_analytics_events where "timestamp" >= \'1970-01-01Z\' and "timestamp" < %s', (ARCHIVE_BEFORE,)
        ).fetchone()[0]
    assert placeable_old > 100

    plan = retention(as_of=END, dry_run=True)
    done = retention(as_of=END)

    assert plan["totals"]["rows_to_delete"] == done["totals"]["rows_deleted"] == placeable_old
    planned = {m["month"]: m["rows_to_delete"] for m in plan["months"] if m.get("rows_to_delete")}
    deleted = {m["month"]: m["rows_deleted"] for m in done["months"] if m.get("rows_deleted")}
    assert planned == deleted
    assert plan["rows_out_of_range_kept"] == done["rows_out_of_range_kept"] == len(OUT_OF_RANGE)
    # Kept as they were: not deleted, not archived, address untouched.
    assert {at: stored(url, row_id)[0] for at, row_id in strays.items()} == dict.fromkeys(OUT_OF_RANGE, "203.0.113.77")
    archived = {path.parent.name for path in sampled.archive_root.rglob("part-*.parquet")}
    assert archived == {"month=2026-01", "month=2026-02"}
    # Both runs say so in their reports.
    with psycopg.connect(url) as conn:
        recorded = conn.execute("select report from event_analytics_runs where flow_name = 'retention'").fetchone()[0]
    assert recorded["rows_out_of_range_kept"] == len(OUT_OF_RANGE)


@pytest.mark.usefixtures("prefect_server")
def test_hourly_reports_count_rows_out_of_range(sampled: Settings) -> None:
    for at in OUT_OF_RANGE:
        insert_row(sampled.database_url, at)

    figures = hourly(as_of=END - timedelta(days=1), lookback_hours=0)

    assert "timestamp_out_of_range" in REJECTION_REASONS
    assert figures["rows_out_of_range_in_table"] == len(OUT_OF_RANGE)
    assert figures["rows_rejected"]["timestamp_out_of_range"] == 0
