"""The read routes' parameters and queries: one summary row, or an item's rows of one period type."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from flows.sql import load_sql
from service.tracking import RequestError, clean_text

PERIOD_TYPES = ("hour", "day", "week", "month", "all_time")
# Without start_date, a chart of the recent past; hours are also bounded with one, since an item's
# hour rows over years would be one enormous answer.
DEFAULT_SPANS = {"hour": timedelta(days=2), "day": timedelta(days=90), "week": timedelta(weeks=104), "month": timedelta(days=5 * 366)}
MAX_HOUR_SPAN = timedelta(days=400)
# Every period boundary is a local hour, and every zone's offset is a multiple of 15 minutes: an
# answer that ends at "now" can only change at a quarter hour (or when a flow commits).
QUARTER_HOUR = 900


@dataclass(frozen=True)
class PeriodQuery:
    """The validated parameters of a periods request, and the cache field they make."""

    period_type: str
    start: datetime
    end: datetime
    end_is_now: bool
    start_given: bool

    @property
    def cache_field(self) -> str:
        start = self.start.isoformat() if self.start_given else "default"
        end = "now" if self.end_is_now else self.end.isoformat()
        return f"periods:{self.period_type}:{start}:{end}"

    @property
    def expires_at(self) -> float | None:
        """When a cached answer stops being right without any commit (None: only at a commit)."""
        if not self.end_is_now:
            return None
        return (math.floor(self.end.timestamp() / QUARTER_HOUR) + 1) * QUARTER_HOUR


def parse_instant(name: str, text: str, timezone_name: str) -> datetime:
    """An ISO 8601 date or time; a date is the start of that local day, a time without offset is local."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        shown = clean_text(text)[:40]
        raise RequestError(f"{name} {shown!r} is not an ISO 8601 date or time; pass e.g. 2026-11-01 or 2026-11-01T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone_name))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise RequestError(f"{name} {text!r} is outside the years 1 to 9999 in UTC; pass a nearer date") from None


def parse_period_query(
    period_type: str | None, start_date: str | None, end_date: str | None, timezone_name: str, now: datetime
) -> PeriodQuery:
    """Validate the periods parameters (defaults: day, and end at now); errors name the parameter."""
    kind = period_type if period_type not in (None, "") else "day"
    if kind not in PERIOD_TYPES:
        raise RequestError(f"period_type {clean_text(kind)[:40]!r} is not one of {', '.join(PERIOD_TYPES)}")
    end_is_now = end_date in (None, "")
    end = now if end_is_now else parse_instant("end_date", end_date, timezone_name)
    start_given = start_date not in (None, "")
    if start_given:
        start = parse_instant("start_date", start_date, timezone_name)
    else:
        start = datetime(1970, 1, 1, tzinfo=UTC)
        if kind in DEFAULT_SPANS:
            try:
                start = end - DEFAULT_SPANS[kind]
            except OverflowError:  # an end_date in the first days of year 1
                start = datetime.min.replace(tzinfo=UTC)
    if start > end:
        raise RequestError(f"start_date {start.isoformat()} is after end_date {end.isoformat()}; pass a start_date before the end_date")
    if kind == "hour" and end - start > MAX_HOUR_SPAN:
        raise RequestError(
            f"start_date to end_date spans {(end - start).days} days of hours; narrow it to {MAX_HOUR_SPAN.days} days or use period_type=day"
        )
    return PeriodQuery(kind, start, end, end_is_now, start_given)


def zero_summary(columns: list[tuple[str, str]], item_id: str) -> bytes:
    """The answer for an item with no summary yet: the plan's zeros, empty breakdowns, no dates."""
    row: dict[str, object] = {}
    for name, data_type in columns:
        if name == "event_id":
            row[name] = item_id
        elif data_type in ("integer", "bigint"):
            row[name] = 0
        elif data_type == "jsonb":
            row[name] = {}
        else:
            row[name] = None
    return json.dumps(row, separators=(",", ":")).encode()


async def read_summary_columns(conn: psycopg.AsyncConnection) -> list[tuple[str, str]]:
    cursor = await conn.execute(load_sql("read_summary_columns"))
    return [(name, data_type) for name, data_type in await cursor.fetchall()]


async def read_summary(conn: psycopg.AsyncConnection, item_id: str) -> bytes | None:
    cursor = await conn.execute(load_sql("read_item_summary"), {"event_id": item_id})
    row = await cursor.fetchone()
    return row[0].encode() if row else None


async def read_periods(conn: psycopg.AsyncConnection, item_id: str, query: PeriodQuery) -> bytes:
    params = {"event_id": item_id, "period_type": query.period_type, "start": query.start, "end": query.end}
    cursor = await conn.execute(load_sql("read_item_periods"), params)
    return (await cursor.fetchone())[0].encode()
