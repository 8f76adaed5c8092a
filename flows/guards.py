"""Guards on every analytics write: before a transaction commits, the rows it wrote must keep the invariants."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from flows.database import DatabaseError
from flows.sql import load_sql


class InvariantBroken(DatabaseError):
    """A write would store rows that break an invariant; it was rolled back. The message names item and invariant."""


@dataclass
class WrittenRows:
    """What one transaction wrote: period spans per type with their items, and refreshed summaries."""

    spans: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    items: set[str] = field(default_factory=set)
    summary_items: set[str] = field(default_factory=set)
    # All-time unique views by item as the transaction's own visitor changes imply them; items
    # without one are recounted from event_analytics_visitors (a cost that follows their history).
    all_time_uniques: dict[str, int] = field(default_factory=dict)
    # Unique views of day, week and month rows as the database counted them for this transaction
    # (roll-ups from stored visitor-hours), by (period type, item, period start); rows without one
    # (days counted in memory from a window's hours) are recounted from visitor-hours.
    period_uniques: dict[tuple[str, str, datetime], int] = field(default_factory=dict)


_written: ContextVar[WrittenRows | None] = ContextVar("analytics_written_rows", default=None)


def note_periods(period_type: str, start: datetime, end: datetime, items: Iterable[str]) -> None:
    """Record that rows of `period_type` starting in [start, end) were written for `items`."""
    written = _written.get()
    if written is not None:
        written.spans.append((period_type, start, end))
        written.items.update(items)


def note_all_time_uniques(uniques: dict[str, int]) -> None:
    """Record the all-time unique views the visitor state implies for these items after this transaction."""
    written = _written.get()
    if written is not None:
        written.all_time_uniques.update(uniques)


def note_period_uniques(period_type: str, uniques: Iterable[tuple[str, datetime, int]]) -> None:
    """Record the unique views the database counted for rows of `period_type`: (item, period start, count)."""
    written = _written.get()
    if written is not None:
        written.period_uniques.update(((period_type, item, start), count) for item, start, count in uniques)


def note_summaries(items: Iterable[str]) -> None:
    written = _written.get()
    if written is not None:
        written.summary_items.update(items)


def merge_spans(spans: Iterable[tuple[str, datetime, datetime]]) -> list[tuple[str, datetime, datetime]]:
    """The same spans with those of one period type that overlap or touch joined, so that the guard
    reads every written row once."""
    merged: list[tuple[str, datetime, datetime]] = []
    for period_type, start, end in sorted(spans):
        if merged and merged[-1][0] == period_type and start <= merged[-1][2]:
            merged[-1] = (period_type, merged[-1][1], max(end, merged[-1][2]))
        else:
            merged.append((period_type, start, end))
    return merged


def verify_written(conn: psycopg.Connection, written: WrittenRows) -> None:
    """Raise InvariantBroken, naming the item and the invariant, if the written rows break one."""
    if not written.items and not written.summary_items:
        return
    spans = merge_spans(written.spans)
    types, starts, ends = (list(column) for column in zip(*spans, strict=True)) if spans else ([], [], [])
    params = {
        "types": types,
        "starts": starts,
        "ends": ends,
        "items": sorted(written.items),
        "summary_items": sorted(written.summary_items),
        "at_items": list(written.all_time_uniques),
        "at_uniques": list(written.all_time_uniques.values()),
        "pu_types": [key[0] for key in written.period_uniques],
        "pu_items": [key[1] for key in written.period_uniques],
        "pu_starts": [key[2] for key in written.period_uniques],
        "pu_uniques": list(written.period_uniques.values()),
    }
    violations = conn.execute(load_sql("guard_written_rows"), params).fetchall()
    if violations:
        item, period_type, period_start, _ = violations[0]
        where = f"{period_type} {period_start.isoformat()}" if period_start is not None else period_type
        broken = "; ".join(dict.fromkeys(invariant for *_, invariant in violations))
        raise InvariantBroken(
            f"write rolled back, nothing stored: item {item}, {where} (of {len(violations)} rows found): broken: {broken}; "
            "run `analytics check` to see the stored state"
        )


@contextmanager
def guarded_writes(conn: psycopg.Connection) -> Iterator[None]:
    """Collect what the enclosed writes touch and verify it before the enclosing transaction commits."""
    token = _written.set(WrittenRows())
    try:
        yield
        verify_now(conn)
    finally:
        _written.reset(token)


def verify_now(conn: psycopg.Connection) -> None:
    """Verify what was written so far in the enclosing guarded_writes (and forget it, so that it is
    not read twice); a write that then records itself as done (a backfill chunk) counts the guard
    in its own time."""
    written = _written.get()
    if written is not None:
        verify_written(conn, written)
        _written.set(WrittenRows())
