"""Hypothesis properties of the metric pipeline: the invariants of ../shared/spec/metrics.md on random small frames."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.transforms.factories import BOT_UA, DESKTOP_UA, ITEM, ITEM_2, ITEM_3, MOBILE_UA, PAGE_URL, TABLET_UA, make_raw_events, run_hours
from transforms.metrics import ADDITIVE_COLUMNS, BREAKDOWNS, PERIOD_METRICS
from transforms.pipeline import HourResult
from transforms.rollups import advance_all_time, roll_up_periods
from transforms.summary import add_ratios

HOUR = timedelta(hours=1)
DAYS = 3
# Local midnights starting three local days; the Paris range spans the 2026-03-29 spring-forward (a 23-hour day).
STARTS = {"UTC": datetime(2026, 3, 28, tzinfo=UTC), "Europe/Paris": datetime(2026, 3, 27, 23, tzinfo=UTC)}
DAY_BOUNDS = {
    "UTC": [datetime(2026, 3, 28 + i, tzinfo=UTC) for i in range(DAYS + 1)],
    "Europe/Paris": [
        datetime(2026, 3, 27, 23, tzinfo=UTC),
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
        datetime(2026, 3, 30, 22, tzinfo=UTC),
    ],
}
TIMEZONES = list(STARTS)
# Rows start up to 2 h before the first day and end up to 2 h after the last (context only).
SPAN_SECONDS = (DAYS * 24 + 4) * 3600

ITEMS = (ITEM, ITEM_2, ITEM_3)
EVENT_TYPES = ("view", "view", "view", "click", "share", "favorite", "ticket_click", "external_click", "hover", "VIEW", None)
USER_AGENTS = (DESKTOP_UA, MOBILE_UA, TABLET_UA, BOT_UA, None, "")
REFERRERS = (
    None,
    "",
    "not a url",
    "https://www.google.com/",
    "https://www.example-events.com/search",
    "https://www.someblog.net/p",
    "https://t.co/x",
)
PAGE_URLS = (PAGE_URL, f"{PAGE_URL}?utm_source=NewsLetter", f"{PAGE_URL}?utm_source=")
TIMES_ON_PAGE = (None, None, None, "30", "12.5", "abc", "-5", "90000", "NaN")
AGE_GROUPS = (None, None, "18-24", "65+")
GENDERS = (None, None, "female", "male")


@st.composite
def raw_frames(draw: st.DrawFn, tz: str) -> pl.DataFrame:
    """≤ 60 raw rows over 1–3 items and 1–5 visitor keys (None included), around three local days of `tz`."""
    items = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
    visitors = draw(st.lists(st.sampled_from(("a", "b", "c", "d", None)), min_size=1, max_size=5, unique=True))
    origin = STARTS[tz] - 2 * HOUR
    # Visits cluster rows: a few anchor minutes (some just before a local midnight) and rows up to 45 min after them.
    edges = [int((bound - origin).total_seconds()) // 60 - 20 for bound in DAY_BOUNDS[tz]]
    anchors = draw(st.lists(st.one_of(st.sampled_from(edges), st.integers(0, SPAN_SECONDS // 60 - 46)), min_size=1, max_size=6))
    clustered = st.tuples(st.sampled_from(anchors), st.integers(0, 45)).map(lambda pair: (pair[0] + pair[1]) * 60)
    # Minute steps make exact timestamp ties and gaps of exactly 30 min likely; second steps do not.
    offset = st.one_of(clustered, st.integers(0, SPAN_SECONDS // 60 - 1).map(lambda m: m * 60), st.integers(0, SPAN_SECONDS - 1))
    # One integer picks every categorical field (mixed radix): far fewer draws than one per field.
    choices = {
        "event_id": items,
        "event_type": EVENT_TYPES,
        "visitor_key": visitors,
        "user_agent": USER_AGENTS,
        "referrer": REFERRERS,
        "page_url": PAGE_URLS,
        "time_on_page_seconds": TIMES_ON_PAGE,
        "age_group": AGE_GROUPS,
        "gender": GENDERS,
    }
    combinations = math.prod(len(values) for values in choices.values())
    row = st.tuples(st.integers(0, combinations - 1), offset).map(lambda pair: _decode_row(choices, *pair, origin))
    size = draw(st.integers(0, 60))
    return make_raw_events(draw(st.lists(row, min_size=size, max_size=size)))


def _decode_row(choices: dict[str, tuple], code: int, offset_seconds: int, origin: datetime) -> dict:
    """A raw row whose categorical fields are the mixed-radix digits of `code`, occurring `offset_seconds` after origin."""
    row: dict[str, object] = {"occurred_at": origin + timedelta(seconds=offset_seconds)}
    for column, values in choices.items():
        code, digit = divmod(code, len(values))
        row[column] = values[digit]
    return row


def whole(raw: pl.DataFrame, tz: str) -> HourResult:
    """compute_hours over the three local days as one window."""
    return run_hours(raw, DAY_BOUNDS[tz][0], DAY_BOUNDS[tz][-1], tz)


def days(result: HourResult, tz: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Day rows and day breakdowns rolled up from one result's hours."""
    return roll_up_periods(result.hours, result.breakdowns, result.visitor_hours, "day", tz)


def by_tz(test):
    """Run a property once per configured time zone, drawing frames around that zone's days."""
    return pytest.mark.parametrize("tz", TIMEZONES, ids=TIMEZONES)(test)


@st.composite
def zoned_frames(draw: st.DrawFn) -> tuple[str, pl.DataFrame]:
    """A time zone of TIMEZONES and a raw frame around its three days."""
    tz = draw(st.sampled_from(TIMEZONES))
    return tz, draw(raw_frames(tz))


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames())
def test_unique_views_and_visits_never_exceed_views(zoned: tuple[str, pl.DataFrame]) -> None:
    """unique_views_count <= views_count and visits_count <= views_count, for hour and day rows."""
    tz, raw = zoned
    result = whole(raw, tz)
    day_rows, _ = days(result, tz)
    for frame in (result.hours, day_rows):
        assert frame.filter(pl.col("unique_views_count") > pl.col("views_count")).is_empty()
        assert frame.filter(pl.col("visits_count") > pl.col("views_count")).is_empty()
        assert frame.filter(pl.col("bounced_visits_count") > pl.col("visits_count")).is_empty()
        assert frame.filter(pl.col("time_on_page_views") > pl.col("views_count")).is_empty()


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames())
def test_traffic_source_and_device_breakdowns_sum_to_views(zoned: tuple[str, pl.DataFrame]) -> None:
    """For each hour and day row, traffic_sources and device_types each sum to views_count."""
    tz, raw = zoned
    result = whole(raw, tz)
    day_rows, day_breakdowns = days(result, tz)
    for rows, breakdowns in ((result.hours, result.breakdowns), (day_rows, day_breakdowns)):
        for dimension in ("traffic_sources", "device_types"):
            sums = (
                breakdowns.filter(pl.col("dimension") == dimension)
                .group_by("event_id", "period_start")
                .agg(pl.col("views").sum().alias("breakdown_views"))
            )
            joined = rows.join(sums, on=["event_id", "period_start"], how="full", coalesce=True).with_columns(
                pl.col("views_count").fill_null(-1), pl.col("breakdown_views").fill_null(0)
            )
            assert joined.filter(pl.col("views_count") != pl.col("breakdown_views")).is_empty(), (dimension, joined)
        assert breakdowns.filter(pl.col("views") <= 0).is_empty()


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames())
def test_bounce_rate_is_a_ratio_in_0_1(zoned: tuple[str, pl.DataFrame]) -> None:
    """bounce_rate is NULL exactly when there are no visits and otherwise within [0, 1]; avg time is >= 0."""
    tz, raw = zoned
    result = whole(raw, tz)
    day_rows, _ = days(result, tz)
    for frame in (add_ratios(result.hours), add_ratios(day_rows)):
        assert frame.filter(pl.col("bounce_rate").is_null() != (pl.col("visits_count") == 0)).is_empty()
        assert frame.filter((pl.col("bounce_rate") < 0) | (pl.col("bounce_rate") > 1)).is_empty()
        assert frame.filter(pl.col("avg_time_on_page_seconds").is_null() != (pl.col("time_on_page_views") == 0)).is_empty()
        assert frame.filter(pl.col("avg_time_on_page_seconds") < 0).is_empty()


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames())
def test_day_rows_sum_to_all_time_sums(zoned: tuple[str, pl.DataFrame]) -> None:
    """Summing the day rows of every hour equals advance_all_time from an empty state, counts and breakdowns."""
    tz, raw = zoned
    result = whole(raw, tz)
    day_rows, day_breakdowns = days(result, tz)
    empty = (pl.DataFrame(schema=PERIOD_METRICS), pl.DataFrame(schema=BREAKDOWNS))
    sums, all_time_breakdowns = advance_all_time(*empty, removed=empty, added=(result.hours, result.breakdowns), timezone_name=tz)
    summed_days = day_rows.group_by("event_id").agg(pl.col(c).sum() for c in ADDITIVE_COLUMNS).sort("event_id")
    assert sums.select("event_id", *ADDITIVE_COLUMNS).equals(summed_days.select("event_id", *ADDITIVE_COLUMNS))
    summed_breakdowns = (
        day_breakdowns.group_by("event_id", "dimension", "key").agg(pl.col("views").sum()).sort("event_id", "dimension", "key")
    )
    plain = all_time_breakdowns.filter(~pl.col("dimension").is_in(["hour_of_day", "weekday"]))
    assert plain.select("event_id", "dimension", "key", "views").equals(summed_breakdowns)
    for histogram in ("hour_of_day", "weekday"):
        totals = all_time_breakdowns.filter(pl.col("dimension") == histogram).group_by("event_id").agg(pl.col("views").sum())
        viewed = summed_days.filter(pl.col("views_count") > 0).select("event_id", pl.col("views_count").alias("views"))
        assert totals.sort("event_id").equals(viewed)


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames(), data=st.data())
def test_advancing_all_time_by_a_recomputed_day_equals_summing_from_scratch(zoned: tuple[str, pl.DataFrame], data: st.DataObject) -> None:
    """Old all_time - the middle day's old hours + its recomputed hours equals all_time of the final hour rows."""
    tz, raw = zoned
    late = data.draw(raw_frames(tz))
    empty = (pl.DataFrame(schema=PERIOD_METRICS), pl.DataFrame(schema=BREAKDOWNS))
    old = whole(raw, tz)
    old_sums, old_breakdowns = advance_all_time(*empty, removed=empty, added=(old.hours, old.breakdowns), timezone_name=tz)
    start, end = DAY_BOUNDS[tz][1], DAY_BOUNDS[tz][2]
    new = run_hours(pl.concat([raw, late]), start, end, tz)
    middle = pl.col("period_start").is_between(start, end, closed="left")
    removed = (old.hours.filter(middle), old.breakdowns.filter(middle))
    sums, breakdowns = advance_all_time(old_sums, old_breakdowns, removed=removed, added=(new.hours, new.breakdowns), timezone_name=tz)
    final_hours = pl.concat([old.hours.filter(~middle), new.hours])
    final_breakdowns = pl.concat([old.breakdowns.filter(~middle), new.breakdowns])
    expected_sums, expected_breakdowns = advance_all_time(*empty, removed=empty, added=(final_hours, final_breakdowns), timezone_name=tz)
    assert sums.equals(expected_sums)
    assert breakdowns.equals(expected_breakdowns)


def chunked(raw: pl.DataFrame, tz: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three local days computed as separate windows, each with the full frame as context, concatenated."""
    bounds = DAY_BOUNDS[tz]
    parts = [run_hours(raw, start, end, tz) for start, end in zip(bounds, bounds[1:], strict=False)]
    return (
        pl.concat([p.hours for p in parts]).sort("event_id", "period_start"),
        pl.concat([p.breakdowns for p in parts]).sort("event_id", "period_start", "dimension", "key"),
        pl.concat([p.visitor_hours for p in parts]).sort("event_id", "hour_start", "visitor_key"),
    )


@by_tz
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_day_chunks_give_the_same_rows_as_one_window(tz: str, data: st.DataObject) -> None:
    """Computing three days as one window or as three day windows gives identical hours, breakdowns, visitor-hours."""
    raw = data.draw(raw_frames(tz))
    one = whole(raw, tz)
    hours, breakdowns, visitor_hours = chunked(raw, tz)
    assert hours.equals(one.hours)
    assert breakdowns.equals(one.breakdowns)
    assert visitor_hours.equals(one.visitor_hours)


@settings(max_examples=60, deadline=None)
@given(zoned=zoned_frames())
def test_day_chunks_with_2h_context_give_the_same_rows_as_one_window(zoned: tuple[str, pl.DataFrame]) -> None:
    """Each day window given only its rows ±2 h (as the flows extract) matches the one-window run when visits last < 2 h."""
    tz, raw = zoned
    one = whole(raw, tz)
    bounds = DAY_BOUNDS[tz]
    parts = [
        run_hours(raw.filter(pl.col("occurred_at").is_between(start - 2 * HOUR, end + 2 * HOUR, closed="left")), start, end, tz)
        for start, end in zip(bounds, bounds[1:], strict=False)
    ]
    visits_fit = _longest_visit(raw) < 2 * HOUR
    if visits_fit:
        assert pl.concat([p.hours for p in parts]).sort("event_id", "period_start").equals(one.hours)
    assert pl.concat([p.breakdowns for p in parts]).sort("event_id", "period_start", "dimension", "key").equals(one.breakdowns)
    assert pl.concat([p.visitor_hours for p in parts]).sort("event_id", "hour_start", "visitor_key").equals(one.visitor_hours)


def _longest_visit(raw: pl.DataFrame) -> timedelta:
    """An upper bound of the longest visit: runs of one key's rows of any kind split at gaps over 30 min."""
    keyed = raw.filter(pl.col("visitor_key").is_not_null() & pl.col("occurred_at").is_not_null()).sort("visitor_key", "occurred_at")
    if keyed.is_empty():
        return timedelta(0)
    runs = keyed.with_columns(
        ((pl.col("occurred_at") - pl.col("occurred_at").shift(1).over("visitor_key")) > timedelta(minutes=30))
        .fill_null(True)
        .cum_sum()
        .over("visitor_key")
        .alias("run")
    )
    spans = runs.group_by("visitor_key", "run").agg((pl.col("occurred_at").max() - pl.col("occurred_at").min()).alias("span"))
    return spans.get_column("span").max()


@st.composite
def frames_with_resent_rows(draw: st.DrawFn) -> tuple[str, pl.DataFrame]:
    """A zoned frame plus copies of some views (a tracker re-sending them) with other metadata, in a random order."""
    tz, raw = draw(zoned_frames())
    if raw.is_empty():
        return tz, raw
    views = [i for i, kind in enumerate(raw.get_column("event_type").to_list()) if kind == "view"] or list(range(raw.height))
    picked = draw(st.lists(st.sampled_from(views), max_size=8))
    metadata = st.sampled_from(TIMES_ON_PAGE)
    copies = raw[picked].with_columns(pl.Series("time_on_page_seconds", [draw(metadata) for _ in picked], dtype=pl.String))
    combined = pl.concat([raw, copies])
    return tz, combined[draw(st.permutations(range(combined.height)))]


# No shrinking: a failure here shrinks for minutes; test_metrics_definitions has the minimal cases.
@settings(max_examples=60, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(zoned=frames_with_resent_rows(), data=st.data())
def test_row_order_does_not_change_any_result(zoned: tuple[str, pl.DataFrame], data: st.DataObject) -> None:
    """Re-running on the same rows in another order gives the same hours, breakdowns and visitor-hours."""
    tz, raw = zoned
    shuffled = raw[data.draw(st.permutations(range(raw.height)))] if raw.height else raw
    one, other = whole(raw, tz), whole(shuffled, tz)
    assert other.hours.equals(one.hours)
    assert other.breakdowns.equals(one.breakdowns)
    assert other.visitor_hours.equals(one.visitor_hours)
