"""Retention end to end: real PostgreSQL, real Parquet archive under tmp_path, generated data, real Prefect runs."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest

import flows.archive as archive
import flows.retention as retention_module
from data.sample import generate_sample
from flows.archive import (
    ARCHIVED_EVENTS,
    MANIFEST_NAME,
    ArchiveQueryError,
    ArchiveVerificationError,
    Checksum,
    archive_month,
    checksum_rows,
    query_archive,
    read_archived_events,
    read_archived_rows,
    read_manifest,
    verify_month,
)
from flows.database import Database
from flows.extract import extract_raw_events
from flows.retention import (
    ARTIFACT_KEY,
    RetentionError,
    anonymise_addresses,
    delete_rows,
    plan_retention,
    retention,
    retention_cutoffs,
    select_rows,
)
from flows.settings import Settings, load_settings
from transforms.schemas import RAW_EVENTS

END = datetime(2026, 5, 15, tzinfo=UTC)
ARCHIVE_BEFORE = END - timedelta(days=90)  # 2026-02-14: all of the sample's January, half of its February
ANONYMISE_BEFORE = END - timedelta(days=30)
OLD = ARCHIVE_BEFORE - timedelta(days=3)
MIDDLE = END - timedelta(days=40)
RECENT = END - timedelta(days=10)


def fetch_count(url: str, where: str = "true") -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from event_analytics_events where {where}").fetchone()[0]


def fetch_ids(url: str, where: str = "true") -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(f"select id::text from event_analytics_events where {where}")}


def archived_ids(root: Path) -> list[str]:
    return [row[0] for row in query_archive(root, "select id from raw_events", limit=1_000_000).rows]


def archive_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def database_fingerprint(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*), md5(string_agg(e::text, '|' order by id)) from event_analytics_events e").fetchone()


def insert_row(conn: psycopg.Connection, at: datetime | None, **columns: object) -> str:
    """One raw row with the given columns (defaults fill the rest); return its id."""
    row = {"id": str(uuid.uuid4()), "event_type": "view", "session_id": f"s-{uuid.uuid4().hex[:8]}", "timestamp": at, **columns}
    names = ", ".join(f'"{name}"' for name in row)
    conn.execute(f"insert into event_analytics_events ({names}) values ({', '.join(['%s'] * len(row))})", list(row.values()))
    return row["id"]


def anonymised(address: str) -> str:
    """The address cut to its /24 (IPv4) or /48 (IPv6), computed independently of PostgreSQL."""
    ip = ipaddress.ip_address(address)
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False).network_address)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    return load_settings()


@pytest.fixture
def sampled(settings: Settings) -> Settings:
    """5,000 generated rows over 120 days ending at END, plus hand-made rows each test can name."""
    with psycopg.connect(settings.database_url) as conn:
        generate_sample(conn, rows=5_000, days=120, seed=11, end=END, items=30)
        item = conn.execute("select id from events limit 1").fetchone()[0]
        insert_row(
            conn,
            OLD,
            event_id=item,
            user_id=str(uuid.uuid4()),
            session_id="s-signed-in",
            ip_address="203.0.113.77",
            metadata='{"time_on_page_seconds": 12, "age_group": "25-34", "gender": "female"}',
        )
        insert_row(conn, OLD, event_id=item, session_id="s-anonymous", ip_address="2001:db8:abcd:1234:5678::1")
        insert_row(conn, None, event_id=item, session_id="s-no-timestamp", ip_address="192.0.2.1")
    return settings


@pytest.mark.usefixtures("prefect_server")
def test_retention_moves_exactly_the_old_rows(sampled: Settings) -> None:
    url = sampled.database_url
    total = fetch_count(url)
    old = fetch_ids(url, f"\"timestamp\" < '{ARCHIVE_BEFORE.isoformat()}'")
    without_timestamp = fetch_ids(url, '"timestamp" is null')
    before = select_rows(Database(url, sampled), END - timedelta(days=200), ARCHIVE_BEFORE)
    assert len(old) > 1_000 and without_timestamp

    report = retention(as_of=END)

    assert fetch_count(url) == total - len(old)
    assert fetch_count(url, f"\"timestamp\" < '{ARCHIVE_BEFORE.isoformat()}'") == 0
    assert fetch_ids(url, '"timestamp" is null') == without_timestamp
    ids = archived_ids(sampled.archive_root)
    assert len(ids) == len(set(ids)) and set(ids) == old
    totals = report["totals"]
    assert totals["rows_selected"] == totals["rows_archived"] == totals["rows_verified"] == totals["rows_deleted"] == len(old)
    assert totals["rows_already_archived"] == 0
    assert [m["month"] for m in report["months"] if m.get("rows_deleted")] == ["2026-01", "2026-02"]
    assert report["rows_without_timestamp_kept"] == len(without_timestamp)
    assert sorted(p.name for p in sampled.archive_root.iterdir()) == ["month=2026-01", "month=2026-02"]

    # Every column survives, and the archive holds only anonymised addresses.
    after = pl.concat([read_archived_rows(sampled.archive_root, month) for month in ("2026-01", "2026-02")])
    expected = before.with_columns(pl.col("ip_address").map_elements(anonymised, return_dtype=pl.String))
    assert after.sort("id").equals(expected.sort("id"))


@pytest.mark.usefixtures("prefect_server")
def test_running_twice_changes_nothing(sampled: Settings) -> None:
    first = retention(as_of=END)
    files, fingerprint = archive_files(sampled.archive_root), database_fingerprint(sampled.database_url)

    second = retention(as_of=END)

    assert archive_files(sampled.archive_root) == files
    assert database_fingerprint(sampled.database_url) == fingerprint
    assert first["totals"]["rows_deleted"] > 0
    assert second["totals"] == {}
    assert second["months"] == []


@pytest.mark.usefixtures("prefect_server")
def test_a_crash_between_write_and_delete_neither_duplicates_nor_loses_rows(sampled: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    url, root = sampled.database_url, sampled.archive_root
    total = fetch_count(url)
    old = fetch_ids(url, f"\"timestamp\" < '{ARCHIVE_BEFORE.isoformat()}'")

    def crash(*args: object, **kwargs: object) -> int:
        raise RuntimeError("simulated crash after the archive was written")

    delete_task = retention_module.delete_archived_rows
    monkeypatch.setattr(retention_module, "delete_archived_rows", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        retention(as_of=END)
    assert fetch_count(url) == total
    # The crash hit the first month's delete: that month is archived, the next one not yet.
    written = archived_ids(root)
    assert written and set(written) <= old and len(written) < len(old)
    files = archive_files(root)
    # A write that died before its rename leaves a temporary file, never a part.
    leftover = root / "month=2026-01" / ".tmp-part-20260120T000000Z-20260121T000000Z-000000000000.parquet.writing"
    leftover.write_bytes(b"half a parquet file")
    plan = plan_retention(Database(url, sampled), retention_cutoffs(END, sampled, now=END))
    assert sum(m["rows_already_archived"] for m in plan["months"]) == len(written)

    monkeypatch.setattr(retention_module, "delete_archived_rows", delete_task)
    report = retention(as_of=END)

    ids = archived_ids(root)
    assert len(ids) == len(set(ids)) and set(ids) == old
    assert fetch_count(url, f"\"timestamp\" < '{ARCHIVE_BEFORE.isoformat()}'") == 0
    assert fetch_count(url) + len(ids) == total
    assert report["totals"]["rows_already_archived"] == len(written)
    assert report["totals"]["rows_archived"] == len(old) - len(written)
    assert report["totals"]["rows_deleted"] == len(old)
    assert set(files) - {str(leftover.relative_to(root))} <= set(archive_files(root))
    assert not [f for f in archive_files(root) if ".tmp-" in f]


def drop_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.slice(1)


def alter_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("evil.example")).otherwise(pl.col("referrer")).alias("referrer")
    )


def duplicate_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(
    ("tamper", "reported"),
    [(drop_first_row, "1 missing"), (alter_first_row, "1 altered"), (duplicate_first_row, "1 duplicated")],
    ids=["missing-row", "altered-row", "duplicated-row"],
)
def test_a_failed_verification_deletes_nothing(sampled: Settings, monkeypatch: pytest.MonkeyPatch, tamper, reported: str) -> None:
    fingerprint = database_fingerprint(sampled.database_url)
    reader = archive.read_archived_rows
    monkeypatch.setattr(archive, "read_archived_rows", lambda *args, **kwargs: tamper(reader(*args, **kwargs)))
    with pytest.raises(ArchiveVerificationError, match=reported):
        retention(as_of=END)
    # The anonymisation committed before archiving began; apart from it, no row changed or went.
    assert database_fingerprint(sampled.database_url)[0] == fingerprint[0]
    old = fetch_ids(sampled.database_url, f"\"timestamp\" < '{ARCHIVE_BEFORE.isoformat()}'")
    assert old
    # The part that failed is set aside, so the next run writes it afresh.
    assert archived_ids(sampled.archive_root) == []
    kept = [path.name for path in (sampled.archive_root / "month=2026-01").iterdir() if path.name != MANIFEST_NAME]
    assert [name.startswith(".rejected-part-") for name in kept] == [True]
    assert read_manifest(sampled.archive_root, "2026-01") == {}

    monkeypatch.setattr(archive, "read_archived_rows", reader)
    report = retention(as_of=END)

    assert sorted(archived_ids(sampled.archive_root)) == sorted(old)
    assert report["totals"]["rows_archived"] == report["totals"]["rows_deleted"] == len(old)


def test_delete_refuses_rows_that_changed_after_verification(sampled: Settings) -> None:
    url, root = sampled.database_url, sampled.archive_root
    db = Database(url, sampled)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    rows = select_rows(db, start, end)
    archive_month(root, "2026-01", rows)
    verified = verify_month(root, "2026-01", rows)
    with psycopg.connect(url) as conn:
        conn.execute("update event_analytics_events set referrer = 'changed' where id = %s", (rows["id"][0],))

    with pytest.raises(RetentionError, match="nothing was deleted"):
        delete_rows(db, rows, verified, start, end)

    assert fetch_count(url, f"\"timestamp\" >= '{start.isoformat()}' and \"timestamp\" < '{end.isoformat()}'") == rows.height


def test_anonymisation_cuts_addresses_exactly_once(settings: Settings) -> None:
    url = settings.database_url
    addresses = {
        "ipv4": (MIDDLE, "203.0.113.77", "203.0.113.0"),
        "ipv6": (MIDDLE, "2001:db8:abcd:1234:5678::1", "2001:db8:abcd::"),
        "ipv4 with a netmask": (MIDDLE, "10.1.2.3/16", "10.1.2.0"),
        "already anonymised": (MIDDLE, "198.51.100.0", "198.51.100.0"),
        "recent": (RECENT, "192.0.2.55", "192.0.2.55"),
        "no timestamp": (None, "192.0.2.56", "192.0.2.56"),
        "no address": (MIDDLE, None, None),
    }
    with psycopg.connect(url) as conn:
        ids = {name: insert_row(conn, at, ip_address=address) for name, (at, address, _) in addresses.items()}

    db = Database(url, settings)
    changed = anonymise_addresses(db, ANONYMISE_BEFORE)
    again = anonymise_addresses(db, ANONYMISE_BEFORE)

    with psycopg.connect(url) as conn:
        stored = dict(conn.execute("select id::text, abbrev(ip_address) from event_analytics_events").fetchall())
    assert {name: stored[ids[name]] for name in addresses} == {name: expected for name, (_, _, expected) in addresses.items()}
    assert changed == {MIDDLE.strftime("%Y-%m"): 3}
    assert again == {}


@pytest.mark.usefixtures("prefect_server")
def test_a_dry_run_writes_nothing_and_says_what_would_happen(sampled: Settings) -> None:
    url = sampled.database_url
    fingerprint = database_fingerprint(url)

    report = retention(dry_run=True, as_of=END)

    assert database_fingerprint(url) == fingerprint
    assert not sampled.archive_root.exists()
    with psycopg.connect(url) as conn:
        to_delete = dict(
            conn.execute(
                "select to_char(\"timestamp\" at time zone 'UTC', 'YYYY-MM'), count(*) from event_analytics_events "
                'where "timestamp" < %s group by 1',
                (ARCHIVE_BEFORE,),
            ).fetchall()
        )
        addresses = [
            row[0]
            for row in conn.execute(
                'select host(ip_address) from event_analytics_events where "timestamp" < %s and ip_address is not null', (ANONYMISE_BEFORE,)
            )
        ]
    to_anonymise = sum(anonymised(address) != address for address in addresses)
    months = {m["month"]: m for m in report["months"]}
    assert {month: m["rows_to_delete"] for month, m in months.items() if m["rows_to_delete"]} == to_delete
    assert all(m["rows_to_archive"] == m["rows_to_delete"] and m["rows_already_archived"] == 0 for m in months.values())
    assert report["totals"]["rows_to_anonymise"] == to_anonymise > 0
    assert report["dry_run"] is True


@pytest.mark.usefixtures("prefect_server")
def test_the_archive_answers_queries(sampled: Settings) -> None:
    root = sampled.archive_root
    assert query_archive(root, "select count(*) as n from raw_events") == (["n"], [(0,)], False)
    report = retention(as_of=END)

    columns, rows, _ = query_archive(
        root, "select month, count(*) as n, count(distinct id) as ids from raw_events group by month order by month"
    )

    assert columns == ["month", "n", "ids"]
    assert rows == [(m["month"], m["rows_deleted"], m["rows_deleted"]) for m in report["months"] if m.get("rows_deleted")]
    bad = "select nope from raw_events"
    with duckdb.connect() as conn, pytest.raises(duckdb.Error) as direct:
        conn.execute("create table raw_events (id varchar)")
        conn.execute(bad)
    with pytest.raises(ArchiveQueryError) as raised:
        query_archive(root, bad)
    assert str(raised.value) == str(direct.value).splitlines()[0]
    assert "\n" not in str(raised.value)


@pytest.mark.usefixtures("prefect_server")
def test_archived_events_read_back_in_the_raw_events_shape(sampled: Settings) -> None:
    url, root = sampled.database_url, sampled.archive_root
    start, end = datetime(2026, 1, 20, tzinfo=UTC), ARCHIVE_BEFORE
    expected = extract_raw_events(url, start, end)
    retention(as_of=END)

    events = read_archived_events(root, start, end)

    assert events.schema == RAW_EVENTS
    assert events.height == expected.height > 0
    assert events.sort(events.columns, nulls_last=True).equals(expected.sort(expected.columns, nulls_last=True))
    mine = events.filter(pl.col("visitor_key") == "s-anonymous")
    assert mine.height == 1
    signed_in = events.filter(pl.col("age_group") == "25-34", pl.col("gender") == "female", pl.col("time_on_page_seconds") == "12")
    assert signed_in.height >= 1 and "s-signed-in" not in signed_in["visitor_key"].to_list()
    assert read_archived_events(root, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)).schema == RAW_EVENTS


@pytest.mark.usefixtures("prefect_server")
def test_the_run_report_is_a_prefect_artifact(sampled: Settings) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    state = retention(as_of=END, return_state=True)
    report = state.result()
    flow_run_id = state.state_details.flow_run_id

    async def read() -> list:
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]), key=ArtifactFilterKey(any_=[ARTIFACT_KEY])
                )
            )

    artifacts = asyncio.run(read())
    assert len(artifacts) == 1
    markdown = artifacts[0].data
    january = next(m for m in report["months"] if m["month"] == "2026-01")
    assert (
        f"| 2026-01 | {january['rows_selected']} | {january['rows_archived']} | 0 | {january['rows_verified']} | "
        f"{january['rows_deleted']} | {january['rows_anonymised']} | `{january['file']}` |"
    ) in markdown
    totals = report["totals"]
    assert f"| **total** | {totals['rows_selected']} | {totals['rows_archived']} |" in markdown
    assert f"kept in the database: {report['rows_without_timestamp_kept']}" in markdown
    with psycopg.connect(sampled.database_url) as conn:
        recorded = conn.execute("select report from event_analytics_runs where flow_name = 'retention'").fetchall()
    assert [row[0]["totals"] for row in recorded] == [totals]


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f.slice(1),
        lambda f: f.with_columns(pl.col("referrer").fill_null("")),
        lambda f: f.with_columns(pl.col("timestamp") + pl.duration(microseconds=1)),
        lambda f: f.with_columns(pl.col("session_id").alias("user_agent"), pl.col("user_agent").alias("session_id")),
        lambda f: f.with_columns(session_id=pl.col("session_id") + pl.col("user_agent"), user_agent=pl.lit("")),
        lambda f: pl.concat([f, f.head(1)]),
    ],
    ids=["missing", "null-to-empty", "timestamp-by-1us", "fields-swapped", "boundary-moved", "duplicated"],
)
def test_the_checksum_sees_any_change(change) -> None:
    rows = pl.DataFrame(
        {
            "id": ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"],
            "session_id": ["a", "b"],
            "user_agent": ["b", "a"],
            "referrer": [None, "https://x.example/"],
            "timestamp": [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)],
        }
    ).with_columns(
        pl.lit(None, dtype=pl.String).alias(name)
        for name in ARCHIVED_EVENTS
        if name not in ("id", "session_id", "user_agent", "referrer", "timestamp")
    )
    assert checksum_rows(rows) == checksum_rows(rows.reverse())
    assert checksum_rows(change(rows)) != checksum_rows(rows)


def test_the_checksum_of_no_rows_is_the_one_postgresql_gives() -> None:
    assert checksum_rows(pl.DataFrame(schema=ARCHIVED_EVENTS)) == Checksum(rows=0, digest="d41d8cd98f00b204e9800998ecf8427e")


def test_a_refused_delete_is_not_retried_but_a_lost_connection_is() -> None:
    from prefect.states import Failed

    assert retention_module._retry_unless_refused(None, None, Failed(data=RetentionError("rows differ"))) is False
    assert retention_module._retry_unless_refused(None, None, Failed(data=archive.ArchiveIntegrityError("part damaged"))) is False
    assert retention_module._retry_unless_refused(None, None, Failed(data=OSError("connection reset"))) is True


def test_settings_that_would_archive_full_addresses_are_refused() -> None:
    with pytest.raises(RetentionError, match="ANALYTICS_ANONYMISE_AFTER_DAYS=120 .* set it to 90 or less"):
        retention_cutoffs(END, Settings(retention_days=90, anonymise_after_days=120), now=END)
