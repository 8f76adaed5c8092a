"""Late rows: which local hours they fall in, and the windows that recompute those hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


def local_hour_of(moment: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local hour holding `moment` starts."""
    local = moment.astimezone(zone)
    return moment.astimezone(UTC) - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def late_local_hours(utc_hours: list[datetime], timezone_name: str) -> list[datetime]:
    """Local hours (as UTC instants) overlapping the given UTC hours; two for zones offset by a part of an hour."""
    zone = ZoneInfo(timezone_name)
    hours = set()
    for hour in utc_hours:
        hours.add(local_hour_of(hour, zone))
        hours.add(local_hour_of(hour + HOUR - timedelta(microseconds=1), zone))
    return sorted(hours)


def recompute_windows(hours: list[datetime], neighbours: int) -> list[tuple[datetime, datetime]]:
    """Contiguous [start, end) windows covering each hour and `neighbours` hours either side of it
    (a late row can change the visit, bounce and time on page of the rows just before and after it)."""
    windows: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        start, end = hour - neighbours * HOUR, hour + (1 + neighbours) * HOUR
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows
