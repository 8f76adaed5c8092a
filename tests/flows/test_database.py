"""Database access: the embedded server, migrations, and errors that say what to fix."""

from __future__ import annotations

import psycopg
import pytest

from flows.cli import main
from flows.database import (
    EMBEDDED_SERVER_SETTINGS,
    DatabaseError,
    connect,
    current_schema_version,
    latest_schema_version,
    mask_url,
    migrate,
    require_migrated,
    start_embedded_server,
    stop_embedded_server,
)
from flows.settings import Settings, SettingsError, load_settings
from flows.sql import list_migrations

UNREACHABLE = "postgresql://postgres:secret@127.0.0.1:1/nowhere"


def test_embedded_server_starts_migrates_and_is_reused(tmp_path) -> None:
    settings = Settings(home=tmp_path)
    url = start_embedded_server(settings)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert migrate(conn) == [name for _, name, _ in list_migrations()]
            assert current_schema_version(conn) == latest_schema_version()
            conn.execute("insert into events (title) values ('Embedded gig')")
        assert start_embedded_server(settings) == url
        with psycopg.connect(url) as conn:
            assert conn.execute("select title from events").fetchall() == [("Embedded gig",)]
            assert conn.execute("show server_version").fetchone()[0].startswith("18")
            # Tuned for a laptop: PostgreSQL's default keeps up to 1 GB of WAL for a demo database.
            assert conn.execute("show max_wal_size").fetchone()[0] == EMBEDDED_SERVER_SETTINGS["max_wal_size"]
    finally:
        assert stop_embedded_server(settings)
    assert not stop_embedded_server(settings)


def test_migrate_is_idempotent_and_recorded(scratch_database_url: str) -> None:
    with psycopg.connect(scratch_database_url, autocommit=True) as conn:
        assert current_schema_version(conn) == 0
        shipped = list_migrations()
        names = [name for _, name, _ in shipped]
        assert names == [
            "001_schema",
            "002_backfills",
            "003_top_events",
            "004_invalidation_triggers",
            "005_late_rows",
            "006_definition_versions",
            "007_visitor_fillfactor",
            "008_drop_item_type_index",
        ]
        assert migrate(conn) == names
        assert migrate(conn) == []
        assert conn.execute("select version, name from schema_migrations order by 1").fetchall() == [
            (version, name) for version, name, _ in shipped
        ]
        options = conn.execute("select reloptions from pg_class where oid = 'event_analytics_visitors'::regclass").fetchone()[0]
        assert options == ["fillfactor=70"]
        # event_analytics keeps the plan's keys and indexes only: each index costs every row written.
        indexes = conn.execute("select indexdef from pg_indexes where tablename = 'event_analytics' order by indexname").fetchall()
        assert [row[0].split(" USING btree ")[1] for row in indexes] == [
            "(event_id, period_start, period_type)",
            "(id)",
            "(period_start, period_end)",
        ], indexes


def test_unmigrated_database_is_refused_with_the_fix(scratch_database_url: str) -> None:
    with psycopg.connect(scratch_database_url) as conn, pytest.raises(DatabaseError, match="run `analytics db migrate`"):
        require_migrated(conn)


def test_unreachable_database_says_what_to_fix() -> None:
    with pytest.raises(DatabaseError) as caught, connect(UNREACHABLE):
        pass
    message = str(caught.value)
    assert "cannot reach the database at postgresql://postgres:***@127.0.0.1:1/nowhere" in message
    assert "DATABASE_URL" in message and "secret" not in message


def test_cli_reports_an_unreachable_database_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    assert main(["db", "migrate"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("analytics: cannot reach the database")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("host=h user=u password=pw dbname=d", "host=h user=u password=*** dbname=d"),
    ],
    ids=["uri-password", "uri-no-password", "keyword-password"],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_db_url_prints_the_masked_url(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db.example:5432/analytics")
    assert main(["db", "url"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql://u:***@db.example:5432/analytics"


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"ANALYTICS_TIMEZONE": "Mars/Olympus"}, "is not an IANA zone name"),
        ({"ANALYTICS_VISIT_GAP_MINUTES": "half an hour"}, "is not a whole number"),
        ({"ANALYTICS_HOURLY_LOOKBACK_HOURS": "-1"}, "is below 0"),
    ],
    ids=["zone", "gap", "lookback"],
)
def test_bad_settings_name_the_variable_and_the_fix(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["demo"],
        ["db"],
        ["db", "url"],
        ["db", "migrate"],
        ["db", "stop"],
        ["generate"],
        ["run"],
        ["backfill"],
        ["retention"],
        ["archive"],
        ["archive", "query"],
    ],
    ids=lambda argv: " ".join(argv) or "top",
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    assert "usage: analytics" in capsys.readouterr().out


def test_bad_parameters_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "weekly"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'weekly'" in err and err.strip().count("\n") <= 1
