"""Which local hours a run recomputes, given the instant it runs for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from transforms.periods import local_midnight


@dataclass(frozen=True)
class Window:
    """Local hours [start, end) as UTC instants, with the zone they are named in."""

    start: datetime
    end: datetime
    timezone: str

    def label(self, kind: str) -> str:
        zone = ZoneInfo(self.timezone)
        local_start = self.start.astimezone(zone)
        if kind == "hour":
            return f"{local_start:%Y-%m-%d %H:%M} {self.timezone}"
        local_end = self.end.astimezone(zone)
        end = f"{local_end:%H:%M}" if local_end.date() == local_start.date() else f"{local_end:%Y-%m-%d %H:%M}"
        return f"{local_start:%Y-%m-%d %H:%M} → {end} {self.timezone}"

    def days_label(self) -> str:
        """The local days [start, end) as `2026-09-01 → 2026-09-02`, end exclusive."""
        zone = ZoneInfo(self.timezone)
        return f"{self.start.astimezone(zone).date()} → {self.end.astimezone(zone).date()}"


def format_instant(moment: datetime, timezone_name: str = "UTC") -> str:
    """An instant as a person reads it, in the given zone: `2026-11-26 06:00 Europe/Paris`."""
    local = ensure_utc(moment).astimezone(ZoneInfo(timezone_name))
    return f"{local:%Y-%m-%d %H:%M} {timezone_name}"


def ensure_utc(moment: datetime) -> datetime:
    """An aware instant in UTC; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_hour_start(moment: datetime, timezone_name: str) -> datetime:
    local = ensure_utc(moment).astimezone(ZoneInfo(timezone_name))
    return ensure_utc(moment) - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def hourly_window(as_of: datetime, lookback_hours: int, timezone_name: str) -> Window:
    """The last closed local hour before as_of, plus `lookback_hours` before it."""
    end = local_hour_start(as_of, timezone_name)
    return Window(end - timedelta(hours=1 + lookback_hours), end, timezone_name)


def day_window(day: date, timezone_name: str, days: int = 1) -> Window:
    zone = ZoneInfo(timezone_name)
    return Window(local_midnight(day, zone), local_midnight(day + timedelta(days=days), zone), timezone_name)


def previous_day(as_of: datetime, timezone_name: str) -> date:
    """The last local day that has ended at as_of."""
    return ensure_utc(as_of).astimezone(ZoneInfo(timezone_name)).date() - timedelta(days=1)
