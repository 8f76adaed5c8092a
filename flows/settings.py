"""Settings: read once at the entry point from the environment, then passed down as arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults a fresh checkout runs with."""

    database_url: str | None = None
    home: Path = PROJECT_ROOT / ".analytics"
    timezone: str = "UTC"
    site_hosts: tuple[str, ...] = ("example-events.com",)
    visit_gap_minutes: int = 30
    hourly_lookback_hours: int = 3
    statement_timeout_seconds: int = 600
    retention_days: int = 90
    anonymise_after_days: int = 30
    archive_root: Path = field(default_factory=lambda: PROJECT_ROOT / "data" / "archive")
    redis_url: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded_data_dir(self) -> Path:
        return self.home / "pgdata"


def _int_setting(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} is below {minimum}; set it to e.g. {default}")
    return value


def validate_timezone(name: str) -> str:
    """Return the IANA zone name, or raise with the fix."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"time zone {name!r} is not an IANA zone name; use e.g. 'UTC' or 'Europe/Paris'"
        ) from None
    return name


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ANALYTICS_* variables and DATABASE_URL."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    hosts = env.get("ANALYTICS_SITE_HOSTS")
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        home=Path(env["ANALYTICS_HOME"]).expanduser().resolve() if env.get("ANALYTICS_HOME") else defaults.home,
        timezone=validate_timezone(env.get("ANALYTICS_TIMEZONE") or defaults.timezone),
        site_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()) if hosts else defaults.site_hosts,
        visit_gap_minutes=_int_setting(env, "ANALYTICS_VISIT_GAP_MINUTES", defaults.visit_gap_minutes, 1),
        hourly_lookback_hours=_int_setting(env, "ANALYTICS_HOURLY_LOOKBACK_HOURS", defaults.hourly_lookback_hours),
        statement_timeout_seconds=_int_setting(env, "ANALYTICS_STATEMENT_TIMEOUT_SECONDS", defaults.statement_timeout_seconds, 1),
        retention_days=_int_setting(env, "ANALYTICS_RETENTION_DAYS", defaults.retention_days, 1),
        anonymise_after_days=_int_setting(env, "ANALYTICS_ANONYMISE_AFTER_DAYS", defaults.anonymise_after_days, 1),
        archive_root=Path(env["ANALYTICS_ARCHIVE_ROOT"]).expanduser().resolve()
        if env.get("ANALYTICS_ARCHIVE_ROOT")
        else defaults.archive_root,
        redis_url=env.get("REDIS_URL") or None,
    )
