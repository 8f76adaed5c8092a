"""Settings: read once at the entry point from the environment, then passed down as arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.conninfo import connection_problem, mask_url
from transforms.shards import LOCK_BUCKETS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a fresh checkout runs with."""

    # Out of the repr: a Settings printed in a log or an error must not carry the password.
    database_url: str | None = field(default=None, repr=False)
    home: Path = PROJECT_ROOT / ".analytics"
    timezone: str = "UTC"
    site_hosts: tuple[str, ...] = ("example-events.com",)
    visit_gap_minutes: int = 30
    hourly_lookback_hours: int = 3
    statement_timeout_seconds: int = 600
    retention_days: int = 90
    anonymise_after_days: int = 30
    archive_root: Path = field(default_factory=lambda: PROJECT_ROOT / "data" / "archive")
    backfill_workers: int = 2
    # Raw rows a backfill chunk holds at most when its size is automatic (`--chunk auto`, the default).
    chunk_rows: int = 200_000
    # Item shards a backfill writes side by side (flows/window.py): database connections writing at once.
    write_shards: int = 2
    # May hold a password, like database_url: never in a repr, a log line or a Prefect state.
    redis_url: str | None = field(default=None, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded_data_dir(self) -> Path:
        return self.home / "pgdata"


# The sane range of each whole-number setting, its unit, and why it stops there: beyond it a value is a typo, or breaks what it feeds.
SETTING_RANGES: dict[str, tuple[int, int, str, str]] = {
    # Visits are read with 2 hours of rows around each window (flows.window.VISIT_CONTEXT), which must
    # cover one pause between two views of a visit, or visits at a window's edges would be cut.
    "ANALYTICS_VISIT_GAP_MINUTES": (1, 120, "minutes", "rows are read 2 hours around each window, so a longer pause would cut visits"),
    "ANALYTICS_HOURLY_LOOKBACK_HOURS": (0, 168, "hours", "a week; a longer repair is a backfill"),
    # PostgreSQL's statement_timeout tops out near 24 days.
    "ANALYTICS_STATEMENT_TIMEOUT_SECONDS": (1, 86_400, "seconds", "a day; a statement running longer is stuck"),
    "ANALYTICS_RETENTION_DAYS": (1, 36_500, "days", "a century"),
    "ANALYTICS_ANONYMISE_AFTER_DAYS": (1, 36_500, "days", "a century"),
    "ANALYTICS_BACKFILL_WORKERS": (1, 64, "threads", "more would only queue on the database's write lock"),
    # A chunk's rows are held in memory at once, with every frame computed from them (about 2 KB a row).
    "ANALYTICS_CHUNK_ROWS": (1_000, 5_000_000, "rows", "a chunk's rows and what is computed from them are held in memory at once"),
    # Items fall in LOCK_BUCKETS lock buckets, and a shard is a set of them (transforms/shards.py).
    "ANALYTICS_WRITE_SHARDS": (1, LOCK_BUCKETS, "shards", "items fall in 64 lock buckets, and a shard is a set of them"),
}


def _int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    return int_setting(env, name, default, *SETTING_RANGES[name])


def int_setting(
    env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None, unit: str = "", why: str = ""
) -> int:
    """A whole-number setting from the environment, `default` when unset or empty; out of
    [minimum, maximum] or not a number raises SettingsError with the fix (flows and service)."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None
    allowed = f"{minimum}..{maximum} {unit}, " if maximum is not None else ""
    if value < minimum:
        raise SettingsError(f"{name}={value} is below {minimum}; set it to {allowed}e.g. {default}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={value} is above {maximum} {unit} ({why}); set it to {minimum}..{maximum}, e.g. {default}")
    return value


def validate_timezone(name: str) -> str:
    """Return the IANA zone name, or raise with the fix."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"time zone {name!r} is not an IANA zone name; use e.g. 'UTC' or 'Europe/Paris'") from None
    # The system's zone files also hold names Polars (chrono-tz) refuses, such as right/UTC,
    # posix/Europe/Paris and Factory: ask Polars itself. UTC needs no asking, and no Polars import.
    if name != "UTC" and not _polars_accepts_zone(name):
        raise SettingsError(
            f"time zone {name!r} is a system zone file, not a zone Polars knows; use a plain IANA name such as 'UTC' or 'Europe/Paris'"
        )
    return name


def _polars_accepts_zone(name: str) -> bool:
    import polars as pl

    try:
        pl.Series([0], dtype=pl.Datetime("us", "UTC")).dt.convert_time_zone(name)
    except pl.exceptions.PolarsError:
        return False
    return True


def validate_database_url(url: str) -> str:
    """The URL (or key=value conninfo) when libpq can use it, else SettingsError showing it masked, with the fix."""
    problem = connection_problem(url)
    if problem:
        raise SettingsError(f"DATABASE_URL={mask_url(url)} {problem}; or unset it to use the embedded database")
    return url


def require_anonymise_before_archive(settings: Settings) -> None:
    """Refuse settings under which retention would archive full IP addresses."""
    if settings.anonymise_after_days > settings.retention_days:
        raise SettingsError(
            f"ANALYTICS_ANONYMISE_AFTER_DAYS={settings.anonymise_after_days} is above ANALYTICS_RETENTION_DAYS={settings.retention_days}, "
            f"so retention would archive rows with full IP addresses; set it to {settings.retention_days} or less"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ANALYTICS_* variables and DATABASE_URL."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    hosts = env.get("ANALYTICS_SITE_HOSTS")
    return Settings(
        home=Path(env["ANALYTICS_HOME"]).expanduser().resolve() if env.get("ANALYTICS_HOME") else defaults.home,
        site_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()) if hosts else defaults.site_hosts,
        visit_gap_minutes=_int_setting(env, "ANALYTICS_VISIT_GAP_MINUTES", defaults.visit_gap_minutes),
        hourly_lookback_hours=_int_setting(env, "ANALYTICS_HOURLY_LOOKBACK_HOURS", defaults.hourly_lookback_hours),
        statement_timeout_seconds=_int_setting(env, "ANALYTICS_STATEMENT_TIMEOUT_SECONDS", defaults.statement_timeout_seconds),
        retention_days=_int_setting(env, "ANALYTICS_RETENTION_DAYS", defaults.retention_days),
        anonymise_after_days=_int_setting(env, "ANALYTICS_ANONYMISE_AFTER_DAYS", defaults.anonymise_after_days),
        archive_root=Path(env["ANALYTICS_ARCHIVE_ROOT"]).expanduser().resolve()
        if env.get("ANALYTICS_ARCHIVE_ROOT")
        else defaults.archive_root,
        backfill_workers=_int_setting(env, "ANALYTICS_BACKFILL_WORKERS", defaults.backfill_workers),
        chunk_rows=_int_setting(env, "ANALYTICS_CHUNK_ROWS", defaults.chunk_rows),
        write_shards=_int_setting(env, "ANALYTICS_WRITE_SHARDS", defaults.write_shards),
        redis_url=env.get("REDIS_URL") or None,
        # Last, being the slow checks: libpq parses the URL, Polars checks the zone.
        database_url=validate_database_url(env["DATABASE_URL"]) if env.get("DATABASE_URL") else None,
        timezone=validate_timezone(env.get("ANALYTICS_TIMEZONE") or defaults.timezone),
    )
