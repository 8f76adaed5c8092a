"""DATABASE_URL: checked once at the entry point, and its password shown nowhere: not in messages, logs, or Prefect's own records."""

from __future__ import annotations

import pickle
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from flows.cli import main
from flows.database import Database, DatabaseError, connect, mask_url
from flows.settings import Settings, SettingsError, load_settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgres://u:secret@host/db", "postgres://u:***@host/db"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        ("postgresql://host:5432/db", "postgresql://host:5432/db"),
        ("postgresql://u:p%40ss%2Fw%20rd@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:secret@[::1:5432/db", "postgresql://u:***@[::1:5432/db"),
        ("postgresql://u:sec ret@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:ab/cd+ef==@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:a@b@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:a?b#c@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u@azure-server:secret@host/db", "postgresql://u@azure-server:***@host/db"),
        ("postgresql://host/db?password=secret", "postgresql://host/db?password=***"),
        (
            "postgresql://host/db?sslmode=require&password=secret&application_name=x",
            "postgresql://host/db?sslmode=require&password=***&application_name=x",
        ),
        ("postgresql://host/db?pass%77ord=secret", "postgresql://host/db?pass%77ord=***"),
        ("postgresql://host/db?sslpassword=secret", "postgresql://host/db?sslpassword=***"),
        ("host=h user=u password=secret dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='x y' dbname=d", "host=h password=*** dbname=d"),
        ("host=h password='it\\'s a secret' dbname=d", "host=h password=*** dbname=d"),
        ("host=h password=sec\\ ret dbname=d", "host=h password=*** dbname=d"),
        ("host=h password = secret dbname=d", "host=h password = *** dbname=d"),
        ("host=h PGPASSWORD=secret", "host=h PGPASSWORD=***"),
        ("host=h password='unterminated secret dbname=d", "host=h password=***"),
        ("host='h password=secret", "host=***"),
        ("host=h passwordsecret", "host=h ***"),
        # An empty password hides nothing: the embedded server's URL stays one a user can paste into psql.
        ("postgresql://postgres:@/analytics?host=/tmp/pgdata", "postgresql://postgres:@/analytics?host=/tmp/pgdata"),
    ],
    ids=[
        "uri",
        "postgres-scheme",
        "uri-no-password",
        "uri-no-user",
        "uri-percent-encoded",
        "uri-unclosed-ipv6",
        "uri-space",
        "uri-base64-slash",
        "uri-unencoded-at",
        "uri-question-mark-and-hash",
        "uri-at-in-user-name",
        "uri-query-password",
        "uri-query-password-among-others",
        "uri-query-encoded-key",
        "uri-query-sslpassword",
        "keywords",
        "keywords-quoted-space",
        "keywords-quoted-escape",
        "keywords-escaped-space",
        "keywords-spaces-around-equals",
        "keywords-pgpassword",
        "keywords-unterminated-quote",
        "keywords-quote-swallowing-password",
        "keywords-missing-equals",
        "uri-empty-password",
    ],
)
def test_mask_url_hides_every_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "secret" not in mask_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://postgres:secret@db.example:5432/analytics", "Database(postgresql://postgres:***@db.example:5432/analytics)"),
        ("host=db.example user=u password='a secret' dbname=analytics", "Database(host=db.example user=u password=*** dbname=analytics)"),
    ],
    ids=["uri", "keywords"],
)
def test_a_database_shows_its_url_masked_and_pickles_whole(url: str, shown: str) -> None:
    """Tasks take a Database: Prefect may show it, Dask pickles it to its workers."""
    db = Database(url, Settings(database_url=url))
    assert repr(db) == str(db) == f"{db}" == shown
    assert "secret" not in repr(db) and "secret" not in repr([db])
    assert pickle.loads(pickle.dumps(db)) == db


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://u:MARKER@[::1:5432/db", "cannot be parsed"),
        ("postgresql://u:MAR KER@host/db", "cannot be parsed"),
        ("postgresql://u:MARK/ER@host/db", "is ambiguous"),
        ("postgresql://u:MARK@ER@host/db", "is ambiguous"),
        ("postgresql://u:MARKER@host:99999/db", "port that is not a number from 1 to 65535"),
        ("mysql://u:MARKER@host/db", "is not a PostgreSQL URL"),
        ("host=h password='MARKER x", "cannot be parsed"),
        ("host=h passwordMARKER", "cannot be parsed"),
        ("host=h password=MARKER bogus=1", "cannot be parsed"),
        ("   ", "is blank"),
    ],
    ids=[
        "unclosed-ipv6",
        "space",
        "unencoded-slash",
        "unencoded-at",
        "port",
        "scheme",
        "unterminated-quote",
        "missing-equals",
        "unknown-option",
        "blank",
    ],
)
def test_a_malformed_url_is_refused_in_one_line_without_its_password(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"DATABASE_URL": url})
    message = str(refused.value)
    assert message.startswith("DATABASE_URL=") and reason in message and "unset it" in message
    assert "MAR" not in message and "KER" not in message and "\n" not in message
    assert refused.value.__context__ is None and refused.value.__cause__ is None
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "migrate"]) == 2
    err = capsys.readouterr().err
    assert err == f"analytics: {message}\n"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p%40ss@db.example:5432/analytics",
        "postgresql://postgres:@/analytics?host=/tmp/analytics/pgdata",
        "postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write",
        "postgresql://u:pw@[::1]:5432/db",
        "host=db.example port=5432 user=u password='x y' dbname=analytics",
    ],
    ids=["percent-encoded", "embedded-socket", "multi-host", "ipv6", "keywords-quoted"],
)
def test_well_formed_urls_are_accepted_unchanged(url: str) -> None:
    assert load_settings({"DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:MARKER@127.0.0.1:1/db", "host=127.0.0.1 port=1 user=postgres password='MARKER and more'"],
    ids=["uri", "keywords-quoted"],
)
def test_a_connection_failure_names_the_masked_url_on_one_line(url: str) -> None:
    with pytest.raises(DatabaseError) as caught, connect(url):
        pass
    message = str(caught.value)
    assert "cannot reach the database at" in message and "***" in message and "Connection refused" in message
    assert "MARKER" not in message and "more" not in message and "\n" not in message and "\t" not in message
    assert caught.value.__context__ is None


def test_adbc_quotes_no_password_of_a_url_that_passed_the_check() -> None:
    """ADBC echoes the whole URI when libpq cannot parse it; load_settings refuses those, and for the
    rest ADBC's connection errors carry no password (so its callers need no masking of their own)."""
    import adbc_driver_postgresql.dbapi as adbc

    url = load_settings({"DATABASE_URL": "postgresql://postgres:MARKER@127.0.0.1:1/db"}).database_url
    with pytest.raises(adbc.Error) as caught:
        adbc.connect(url)
    assert "Connection refused" in str(caught.value) and "MARKER" not in str(caught.value)


# --- Prefect's own records --------------------------------------------------------------------------


def prefect_database() -> Path:
    """The test harness's temporary SQLite database."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    return Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])


def flush_to_prefect(flow_run_id: uuid.UUID, database: Path) -> None:
    """Send buffered logs and events, then wait until the server has stored the run's final event and logs."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()
    resource = f"prefect.flow-run.{flow_run_id}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            final = conn.execute(
                "select count(*) from events where resource_id = ? and event in ('prefect.flow-run.Failed', 'prefect.flow-run.Completed')",
                (resource,),
            ).fetchone()[0]
            logs = conn.execute("select count(*) from log where flow_run_id = ?", (str(flow_run_id),)).fetchone()[0]
        if final and logs:
            return
        time.sleep(1)
    raise AssertionError(f"Prefect never stored the final event and logs of flow run {flow_run_id}")


def rows_holding(database: Path, marker: str) -> list[str]:
    """Every row of every table of Prefect's database that holds the marker, as 'table: row'."""
    found = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        for (table,) in conn.execute("select name from sqlite_master where type = 'table'").fetchall():
            for row in conn.execute(f'select * from "{table}"'):
                if marker in repr(row):
                    found.append(f"{table}: {row!r:.300}")
    return found


def files_holding(paths: list[Path], marker: str) -> list[str]:
    needle = marker.encode()
    return [str(path) for path in paths if path.is_file() and needle in path.read_bytes()]


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("case", ["malformed", "unreachable", "keywords-unreachable", "working"])
def test_the_password_reaches_no_record_of_prefect(case: str, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

    from flows import runs

    marker = f"pw{uuid.uuid4().hex}"
    urls = {
        "malformed": f"postgresql://postgres:{marker}@[::1:5432/analytics",
        "unreachable": f"postgresql://postgres:{marker}@127.0.0.1:1/analytics",
        "keywords-unreachable": f"host=127.0.0.1 port=1 user=postgres password='{marker} x'",
        # Trust authentication: the server asks for no password, so the run completes with one in its URL.
        # Any form the server's URL takes (the embedded server's has an empty password and a socket).
        "working": make_conninfo(database_url, password=marker),
    }
    assert marker in urls[case]
    monkeypatch.setenv("DATABASE_URL", urls[case])
    # The connection task retries for 35 s before giving up; one attempt shows the same records.
    monkeypatch.setattr(runs, "prepare_database", runs.prepare_database.with_options(retries=0))

    state = runs.hourly(return_state=True)
    assert state.is_completed() == (case == "working"), state.message
    database = prefect_database()
    flush_to_prefect(state.state_details.flow_run_id, database)

    assert rows_holding(database, marker) == []
    stored = [database, *database.parent.glob(database.name + "-*")]
    results = Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value())
    stored += list(results.rglob("*")) if results.exists() else []
    assert files_holding(stored, marker) == []
