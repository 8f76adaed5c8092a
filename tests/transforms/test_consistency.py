"""Pure parts of the check, late rows and definition versions: repair plans, late hours, digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from transforms.consistency import DRIFT, backfill_commands, format_drift_line, parse_event_ids, plan_repair, summarise_drift
from transforms.definitions import definitions_version
from transforms.lateness import late_local_hours, recompute_windows
from transforms.periods import ALL_TIME_START
from transforms.pipeline import MetricConfig

A, B, C = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b", "00000000-0000-0000-0000-00000000000c"
DAY = datetime(2026, 10, 24, 22, tzinfo=UTC)  # local midnight of 2026-10-25 in Paris


def drift(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=DRIFT, orient="row")


def test_each_drifted_row_is_mended_by_the_recomputation_that_owns_it() -> None:
    plan = plan_repair(
        drift(
            ("period_sums", A, "all_time", ALL_TIME_START, 1),
            ("visitor_state", B, "all_time", ALL_TIME_START, 7),
            ("breakdown_sums", C, "day", DAY, 1),
            ("breakdown_sums", C, "week", DAY - timedelta(days=6), 1),
            ("summaries", C, "summary", None, 1),
            ("bounds", A, "hour", DAY + timedelta(hours=3), 1),
        ),
        "Europe/Paris",
    )
    assert plan.rebuild_items == [A, B]
    assert plan.roll_ups == {"day": {C: [DAY]}, "week": {C: [DAY - timedelta(days=6)]}}
    assert plan.summary_items == [A, B, C]  # a rebuilt all_time row changes its summary
    assert plan.backfill_days == {date(2026, 10, 25): [A]}
    assert backfill_commands(plan) == [f"analytics backfill --start 2026-10-25 --end 2026-10-26 --event {A}"]


def test_backfill_commands_join_consecutive_days_only() -> None:
    hours = [DAY + timedelta(hours=1), DAY + timedelta(days=1, hours=1), DAY + timedelta(days=5, hours=1)]
    plan = plan_repair(drift(*[("bounds", A, "hour", hour, 1) for hour in hours]), "Europe/Paris")
    assert backfill_commands(plan) == [
        f"analytics backfill --start 2026-10-25 --end 2026-10-27 --event {A}",
        f"analytics backfill --start 2026-10-30 --end 2026-10-31 --event {A}",
    ]


def test_one_line_per_kind_counts_rows_and_names_items() -> None:
    lines = summarise_drift(
        drift(("unique_counts", B, "day", DAY, 1), ("unique_counts", A, "day", DAY, 1), ("visitor_state", A, "all_time", ALL_TIME_START, 4))
    )
    assert [line["kind"] for line in lines] == ["unique_counts", "visitor_state"]
    assert format_drift_line(lines[0]).startswith(f"check: unique_counts: 2 rows in 2 items ({A}, {B}): ")
    assert format_drift_line(lines[1]).startswith(f"check: visitor_state: 4 visitors in 1 items ({A}): ")


def test_item_ids_are_canonical_or_refused() -> None:
    assert parse_event_ids([A.upper(), f" {A} "], "check") == [A]
    with pytest.raises(ValueError, match="check: event 'x' is not a UUID"):
        parse_event_ids(["x"], "check")


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Paris", [datetime(2026, 10, 17, 10, tzinfo=UTC)]),
        ("Asia/Kolkata", [datetime(2026, 10, 17, 9, 30, tzinfo=UTC), datetime(2026, 10, 17, 10, 30, tzinfo=UTC)]),
    ],
    ids=["whole-hour-offset", "half-hour-offset"],
)
def test_a_late_utc_hour_falls_in_the_local_hours_it_overlaps(zone: str, expected: list[datetime]) -> None:
    assert late_local_hours([datetime(2026, 10, 17, 10, tzinfo=UTC)], zone) == expected


def test_late_hours_become_windows_with_their_neighbours_merged() -> None:
    h = datetime(2026, 10, 17, 10, tzinfo=UTC)
    windows = recompute_windows([h + timedelta(hours=2), h, h + timedelta(days=2)], neighbours=1)
    assert windows == [(h - timedelta(hours=1), h + timedelta(hours=4)), (h + timedelta(days=2, hours=-1), h + timedelta(days=2, hours=2))]


def test_the_definitions_version_moves_with_every_definition() -> None:
    base = MetricConfig(
        timezone="UTC", visit_gap_minutes=30, bot_patterns=("bot",), known_sources=(("t.co", "twitter"),), site_hosts=("a.com", "b.com")
    )
    versions = {
        definitions_version(base),
        definitions_version(replace(base, timezone="Europe/Paris")),
        definitions_version(replace(base, visit_gap_minutes=20)),
        definitions_version(replace(base, bot_patterns=("bot", "crawler"))),
        definitions_version(replace(base, known_sources=(("t.co", "x"),))),
        definitions_version(replace(base, site_hosts=("a.com",))),
    }
    assert len(versions) == 6
    assert definitions_version(replace(base, site_hosts=("b.com", "a.com"))) == definitions_version(base)
