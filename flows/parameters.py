"""Run parameters checked before anything is read: instants, lookbacks and backfill ranges.

Standard library only (no Prefect, Polars or database), so that the command line answers a bad
parameter at once, and the flows refuse the same values from a deployment before any task runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from transforms.bounds import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

# How far ahead of this machine's clock an as_of may lie. A run for the future reads hours that have
# not happened and overwrites their figures with zeros (and retention would delete rows younger than
# its age), so it is refused; a few minutes are allowed for clocks that disagree (the scheduler's,
# the worker's, a laptop's after sleep: Kerberos allows the same 5 minutes of skew) and for a worker
# starting a scheduled run a few seconds early. A run 5 minutes ahead at worst takes the current,
# unfinished hour, which the next hourly run recomputes.
AS_OF_TOLERANCE = timedelta(minutes=5)
MAX_LOOKBACK_HOURS = 168
# About ten years of days: a backfill runs at least one chunk per chunk_days, each a Prefect task.
MAX_BACKFILL_DAYS = 3_700
# A chunk's raw rows are held in memory at once.
MAX_CHUNK_DAYS = 31
BACKFILL_PERIODS = ("hour", "day", "week", "month")


class ParameterError(ValueError):
    """A run parameter is wrong; the message names it and says what to pass."""


class BackfillError(ParameterError):
    """A backfill parameter is wrong; the message names it and says what to pass."""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def check_as_of(as_of: datetime, now: datetime, run: str, name: str = "as_of") -> datetime:
    """as_of in UTC, or ParameterError when it lies in the future or before the calendar's start."""
    now = _utc(now)
    try:
        as_of = _utc(as_of)
    except OverflowError:
        raise ParameterError(f"{run}: {name} {as_of.isoformat()} lies outside the calendar; pass an instant up to now") from None
    if as_of > now + AS_OF_TOLERANCE:
        raise ParameterError(
            f"{run}: {name} {_shown(as_of)} is in the future (now {_shown(now)}); pass an instant up to now "
            f"({AS_OF_TOLERANCE.seconds // 60} minutes ahead are allowed for clock skew), or leave {name} out"
        )
    if as_of < EARLIEST_TIMESTAMP:
        raise ParameterError(
            f"{run}: {name} {as_of.isoformat()} is before {_shown(EARLIEST_TIMESTAMP)}, where the analytics calendar starts; pass a later instant"
        )
    return as_of


def check_lookback_hours(hours: int, run: str, name: str = "lookback_hours") -> int:
    """The lookback, or ParameterError outside 0..MAX_LOOKBACK_HOURS."""
    if not 0 <= hours <= MAX_LOOKBACK_HOURS:
        raise ParameterError(
            f"{run}: {name} {hours} is outside 0..{MAX_LOOKBACK_HOURS} hours; pass 0 to {MAX_LOOKBACK_HOURS} (a longer repair is a backfill)"
        )
    return hours


def check_chunk_days(days: int | None, name: str = "chunk_days") -> int | None:
    """Days per chunk, or None for chunks sized by their rows (ANALYTICS_CHUNK_ROWS)."""
    if days is not None and not 1 <= days <= MAX_CHUNK_DAYS:
        # The command line's --chunk takes 7d or auto; the flow's chunk_days takes 7 or nothing.
        fix = (
            "pass e.g. 1d or 7d, or auto for chunks sized by their rows"
            if name == "chunk"
            else "pass e.g. 1 or 7, or leave it empty for chunks sized by their rows"
        )
        raise BackfillError(
            f"backfill: {name} {days} is outside 1..{MAX_CHUNK_DAYS} days (a chunk's raw rows are held in memory at once); {fix}"
        )
    return days


def parse_chunk(text: str) -> int | None:
    """'auto' to None (chunks sized by their rows); '1d', '7d' or '7' to a number of days."""
    if text.strip().lower() == "auto":
        return None
    digits = text.strip().lower().removesuffix("d")
    if not digits.isdigit() or int(digits) < 1:
        raise BackfillError(f"backfill: chunk {text!r} is not a number of days nor auto; pass e.g. auto, 1d or 7d")
    return check_chunk_days(int(digits), "chunk")


def local_day_bounds(timezone_name: str) -> tuple[date, date]:
    """The first local day starting at or after EARLIEST_TIMESTAMP, and the last day an exclusive end may name."""
    zone = ZoneInfo(timezone_name)
    first = EARLIEST_TIMESTAMP.astimezone(zone).date()
    if datetime.combine(first, time(), tzinfo=zone) < EARLIEST_TIMESTAMP:
        first += timedelta(days=1)
    return first, LATEST_TIMESTAMP.astimezone(zone).date()


def _names(cli: bool) -> tuple[str, str, str]:
    """The words for start, end and giving a value: `--start` on the command line, `start` in the Prefect run form."""
    return ("--start", "--end", "pass") if cli else ("`start`", "`end`", "set")


def check_backfill_request(
    start: date, end: date, period_types: Sequence[str], event_ids: Sequence[str] | None, *, cli: bool = True
) -> tuple[list[str], list[str] | None]:
    """What a backfill asks for, checked without settings or clock: normalised period types and item ids, or BackfillError."""
    first, last, verb = _names(cli)
    if start >= end:
        raise BackfillError(f"backfill: start {start} is not before end {end} (the end is exclusive); {verb} {first} before {last}")
    periods = []
    for period in period_types:
        name = period.strip().lower()
        if name not in BACKFILL_PERIODS:
            raise BackfillError(f"backfill: unknown period type {period!r}; use {', '.join(BACKFILL_PERIODS)} (comma-separated)")
        if name not in periods:
            periods.append(name)
    if not periods:
        raise BackfillError(f"backfill: no period type given; use {', '.join(BACKFILL_PERIODS)}")
    items = None
    if event_ids:
        items = []
        for value in event_ids:
            try:
                items.append(str(uuid.UUID(str(value).strip())))
            except ValueError:
                raise BackfillError(
                    f"backfill: event {value!r} is not a UUID; pass item ids like 0b3c2a9e-5d1f-4c8e-9a7b-2f6d1e0c4b5a"
                ) from None
        items = sorted(set(items))
    return periods, items


def validate_backfill(
    start: date,
    end: date,
    period_types: Sequence[str],
    event_ids: Sequence[str] | None,
    today: date,
    timezone_name: str,
    *,
    cli: bool = True,
) -> tuple[list[str], list[str] | None]:
    """Normalised period types and item ids, or BackfillError before anything is read or written.

    Messages name the parameters as the user gave them: `--start` on the command line (`cli`),
    `start` in the Prefect run form.
    """
    periods, items = check_backfill_request(start, end, period_types, event_ids, cli=cli)
    first_name, last_name, verb = _names(cli)
    first, last = local_day_bounds(timezone_name)
    if start < first:
        raise BackfillError(
            f"backfill: start {start} is before {first}, the first day the analytics calendar places in {timezone_name}; {verb} {first_name} {first} or later"
        )
    if end > last:
        raise BackfillError(
            f"backfill: end {end} is after {last}, the last day the analytics calendar places in {timezone_name}; {verb} an earlier {last_name}"
        )
    if start > today:
        raise BackfillError(
            f"backfill: the range {start} → {end} is in the future (today is {today} in {timezone_name}); pass dates up to {today}"
        )
    if end > today + timedelta(days=1):
        raise BackfillError(
            f"backfill: end {end} is in the future (today is {today} in {timezone_name}); {verb} {last_name} {today + timedelta(days=1)} or earlier"
        )
    if (end - start).days > MAX_BACKFILL_DAYS:
        raise BackfillError(
            f"backfill: the range {start} → {end} is {(end - start).days:,} days; one backfill covers at most {MAX_BACKFILL_DAYS:,} (about ten years), "
            "so that it ends in hours, not days; split it into several backfills"
        )
    return periods, items
