"""One small test per metric definition and edge case of ../shared/spec/metrics.md, on tiny inline frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from tests.transforms.factories import (
    BOT_UA,
    DESKTOP_UA,
    ITEM,
    ITEM_2,
    MOBILE_UA,
    PAGE_URL,
    T0,
    TABLET_UA,
    make_raw_events,
    run_hours,
)
from transforms.metrics import BREAKDOWNS, PERIOD_METRICS
from transforms.rollups import advance_all_time, peak_of, roll_up_periods
from transforms.summary import add_ratios
from transforms.validation import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, REJECTION_REASONS, split_rejected

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
COUNT_COLUMNS = ("views_count", "clicks_count", "shares_count", "favorites_count", "ticket_clicks", "external_url_clicks")


def at(minutes: float) -> datetime:
    """T0 plus some minutes."""
    return T0 + timedelta(minutes=minutes)


def hour_rows(raw: pl.DataFrame, start: datetime = T0, end: datetime = T0 + HOUR, tz: str = "UTC", **config: object) -> pl.DataFrame:
    """Hour rows of [start, end) with the ratios added."""
    return add_ratios(run_hours(raw, start, end, tz, **config).hours)


def row_of(hours: pl.DataFrame, item: str = ITEM, start: datetime = T0) -> dict:
    """The one row of an item and period start, as a dict."""
    match = hours.filter((pl.col("event_id") == item) & (pl.col("period_start") == start))
    assert match.height == 1, match
    return match.row(0, named=True)


def breakdown_of(breakdowns: pl.DataFrame, dimension: str, item: str = ITEM) -> dict[str, int]:
    """One item's breakdown of one dimension as {key: views}, over all its periods."""
    rows = breakdowns.filter((pl.col("event_id") == item) & (pl.col("dimension") == dimension))
    return dict(rows.group_by("key").agg(pl.col("views").sum()).iter_rows())


def periods_of(raw: pl.DataFrame, start: datetime, end: datetime, tz: str, period_type: str = "day") -> pl.DataFrame:
    """Rows of one period type rolled up from the hours of [start, end)."""
    result = run_hours(raw, start, end, tz)
    periods, _ = roll_up_periods(result.hours, result.breakdowns, result.visitor_hours, period_type, tz)
    return periods


# --- Counts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "column"),
    [
        ("view", "views_count"),
        ("click", "clicks_count"),
        ("share", "shares_count"),
        ("favorite", "favorites_count"),
        ("ticket_click", "ticket_clicks"),
        ("external_click", "external_url_clicks"),
    ],
    ids=["view", "click", "share", "favorite", "ticket_click", "external_click"],
)
def test_each_event_type_counts_in_its_column_only(event_type: str, column: str) -> None:
    """Two rows of one type count 2 in its column and 0 in every other count column."""
    row = row_of(hour_rows(make_raw_events([{}, {"occurred_at": at(5)}], event_type=event_type)))
    assert {c: row[c] for c in COUNT_COLUMNS} == {c: (2 if c == column else 0) for c in COUNT_COLUMNS}


def test_mixed_rows_fill_every_count_column_exactly() -> None:
    """A mix of every event type gives each count column its exact number of rows."""
    types = ["view"] * 3 + ["click"] * 2 + ["share", "favorite", "ticket_click", "ticket_click", "external_click"]
    raw = make_raw_events([{"event_type": kind, "occurred_at": at(i)} for i, kind in enumerate(types)])
    row = row_of(hour_rows(raw))
    assert {c: row[c] for c in COUNT_COLUMNS} == {
        "views_count": 3,
        "clicks_count": 2,
        "shares_count": 1,
        "favorites_count": 1,
        "ticket_clicks": 2,
        "external_url_clicks": 1,
    }
    assert row["period_type"] == "hour"
    assert row["period_end"] - row["period_start"] == HOUR
    assert (row["first_view_at"], row["last_view_at"]) == (at(0), at(2))


@pytest.mark.parametrize(
    ("rows", "views", "uniques", "visits"),
    [
        ([{"visitor_key": "v1"}, {"visitor_key": "v1", "occurred_at": at(1)}, {"visitor_key": "v2"}], 3, 2, 2),
        ([{"visitor_key": "v1"}, {"visitor_key": None, "occurred_at": at(1)}], 2, 1, 1),
        ([{"visitor_key": None}, {"visitor_key": None, "occurred_at": at(40)}], 2, 0, 0),
        ([{"visitor_key": "v1"}, {"visitor_key": "v2", "event_type": "click"}], 1, 1, 1),
        ([{"visitor_key": "v1"}, {"visitor_key": "v1", "occurred_at": at(45)}], 2, 1, 2),
    ],
    ids=["repeated-visitor", "one-view-without-key", "only-keyless-views", "clicker-is-not-a-viewer", "two-visits-one-visitor"],
)
def test_unique_views_count_distinct_visitor_keys_of_views(rows: list[dict], views: int, uniques: int, visits: int) -> None:
    """Views count every view; uniques and visits only those with a visitor key."""
    row = row_of(hour_rows(make_raw_events(rows)))
    assert (row["views_count"], row["unique_views_count"], row["visits_count"]) == (views, uniques, visits)


def test_keyless_view_is_in_no_visitor_hour() -> None:
    """A view without a visitor key yields no visitor-hour row."""
    result = run_hours(make_raw_events([{"visitor_key": None}, {"visitor_key": "v9"}]), T0, T0 + HOUR)
    assert result.visitor_hours.get_column("visitor_key").to_list() == ["v9"]


def test_age_groups_and_genders_come_from_metadata_when_present() -> None:
    """age_groups/genders breakdowns count views carrying the metadata fields, and only those."""
    raw = make_raw_events(
        [
            {"age_group": "25-34", "gender": "female"},
            {"age_group": "25-34", "gender": None, "visitor_key": "v2"},
            {"visitor_key": "v3"},
            {"age_group": "65+", "gender": "male", "event_type": "click"},
        ]
    )
    breakdowns = run_hours(raw, T0, T0 + HOUR).breakdowns
    assert breakdown_of(breakdowns, "age_groups") == {"25-34": 2}
    assert breakdown_of(breakdowns, "genders") == {"female": 1}


# --- Bots and devices --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bot_agent",
    [
        BOT_UA,
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
    ],
    ids=["googlebot", "facebookexternalhit", "slackbot", "whatsapp", "headless-chrome", "curl", "python-requests"],
)
def test_bot_rows_are_left_out_of_every_metric(bot_agent: str) -> None:
    """Adding bot rows of every type (same visitor, same item) changes no hour row, breakdown or visitor-hour."""
    human = make_raw_events([{}])
    bots = make_raw_events(
        [
            {"event_type": kind, "occurred_at": at(i + 1), "visitor_key": key, "referrer": "https://www.google.com/", "age_group": "18-24"}
            for i, (kind, key) in enumerate(
                [
                    ("view", "v1"),
                    ("click", "v1"),
                    ("share", "bot"),
                    ("favorite", "bot"),
                    ("ticket_click", None),
                    ("external_click", None),
                    ("view", None),
                ]
            )
        ],
        user_agent=bot_agent,
    )
    alone = run_hours(human, T0, T0 + HOUR)
    mixed = run_hours(pl.concat([human, bots]), T0, T0 + HOUR)
    assert mixed.hours.equals(alone.hours)
    assert mixed.breakdowns.equals(alone.breakdowns)
    assert mixed.visitor_hours.equals(alone.visitor_hours)
    row = row_of(mixed.hours)
    assert (row["views_count"], row["visits_count"], row["bounced_visits_count"]) == (1, 1, 1)
    assert mixed.report["bot_rows"] == 7


def test_bot_only_item_has_no_row() -> None:
    """An item seen only by bots yields no hour row at all."""
    result = run_hours(make_raw_events([{}, {"event_id": ITEM_2, "user_agent": BOT_UA}]), T0, T0 + HOUR)
    assert result.hours.get_column("event_id").to_list() == [ITEM]


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [("", "other"), (None, "other"), ("   ", "other"), (DESKTOP_UA, "desktop"), (MOBILE_UA, "mobile"), (TABLET_UA, "tablet")],
    ids=["empty-ua", "null-ua", "blank-ua", "desktop", "mobile", "tablet"],
)
def test_device_type_of_a_counted_view(user_agent: str | None, device: str) -> None:
    """Each user agent counts as a view (never a bot when empty) under its device type."""
    result = run_hours(make_raw_events([{"user_agent": user_agent}]), T0, T0 + HOUR)
    assert row_of(result.hours)["views_count"] == 1
    assert breakdown_of(result.breakdowns, "device_types") == {device: 1}
    assert result.report["bot_rows"] == 0


# --- Traffic sources --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "page_url", "source"),
    [
        (None, PAGE_URL, "direct"),
        ("", PAGE_URL, "direct"),
        ("not a url", PAGE_URL, "other"),
        ("undefined", PAGE_URL, "other"),
        ("://broken", PAGE_URL, "other"),
        ("https://www.example-events.com/search?q=jazz", PAGE_URL, "internal"),
        ("https://l.facebook.com/", PAGE_URL, "facebook"),
        ("https://t.co/AbC123", PAGE_URL, "twitter"),
        ("https://www.someblog.net/post", PAGE_URL, "someblog.net"),
        ("https://www.facebook.com/", f"{PAGE_URL}?utm_source=NewsLetter&utm_medium=email", "newsletter"),
        ("not a url", f"{PAGE_URL}?utm_source=SMS", "sms"),
        (None, f"{PAGE_URL}?utm_source=Instagram", "instagram"),
    ],
    ids=[
        "no-referrer-direct",
        "empty-referrer-direct",
        "garbage-not-a-url-other",
        "garbage-undefined-other",
        "garbage-broken-scheme-other",
        "own-site-internal",
        "known-facebook",
        "known-twitter-t-co",
        "unknown-host-without-www",
        "utm-beats-referrer-lower-cased",
        "utm-beats-garbage-referrer",
        "utm-without-referrer",
    ],
)
def test_traffic_source_of_a_view(referrer: str | None, page_url: str, source: str) -> None:
    """Each view counts once in traffic_sources under its source."""
    result = run_hours(make_raw_events([{"referrer": referrer, "page_url": page_url}]), T0, T0 + HOUR)
    assert breakdown_of(result.breakdowns, "traffic_sources") == {source: 1}
    assert row_of(result.hours)["views_count"] == 1


def test_breakdowns_count_views_only() -> None:
    """Clicks and shares from a known source do not enter any breakdown."""
    raw = make_raw_events(
        [{}, {"event_type": "click", "referrer": "https://www.google.com/"}, {"event_type": "share", "user_agent": MOBILE_UA}]
    )
    breakdowns = run_hours(raw, T0, T0 + HOUR).breakdowns
    assert breakdown_of(breakdowns, "traffic_sources") == {"direct": 1}
    assert breakdown_of(breakdowns, "device_types") == {"desktop": 1}


# --- Visits and bounce rate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "config", "visits", "bounced"),
    [
        ([{}, {"occurred_at": at(29)}], {}, 1, 0),
        ([{}, {"occurred_at": at(30)}], {}, 1, 0),
        ([{}, {"occurred_at": at(31)}], {}, 2, 2),
        ([{}, {"occurred_at": at(20)}, {"occurred_at": at(40)}, {"occurred_at": at(59)}], {}, 1, 0),
        ([{}, {"occurred_at": at(15)}], {"visit_gap_minutes": 10}, 2, 2),
        ([{}, {"occurred_at": at(45)}], {"visit_gap_minutes": 60}, 1, 0),
        ([{}, {"occurred_at": at(20), "event_type": "hover"}, {"occurred_at": at(40)}], {}, 2, 2),
        ([{}, {"occurred_at": at(20), "user_agent": BOT_UA}, {"occurred_at": at(40)}], {}, 2, 2),
        ([{}, {"occurred_at": at(20), "event_id": None}, {"occurred_at": at(40)}], {}, 2, 2),
    ],
    ids=[
        "29-min-gap-same-visit",
        "30-min-gap-same-visit",
        "31-min-gap-new-visit",
        "chain-of-short-gaps-one-visit",
        "configured-10-min-gap",
        "configured-60-min-gap",
        "rejected-row-does-not-bridge",
        "bot-row-does-not-bridge",
        "itemless-row-does-not-bridge",
    ],
)
def test_visits_split_at_inactivity_gaps(rows: list[dict], config: dict, visits: int, bounced: int) -> None:
    """One visitor's rows form visits split where consecutive counted rows are more than the gap apart."""
    row = row_of(hour_rows(make_raw_events(rows), **config))
    assert (row["visits_count"], row["bounced_visits_count"]) == (visits, bounced)


@pytest.mark.parametrize(
    ("rows", "visits", "bounced", "rate"),
    [
        ([{}], 1, 1, 1.0),
        ([{}, {"occurred_at": at(1), "event_type": "click"}], 1, 0, 0.0),
        ([{}, {"occurred_at": at(1)}], 1, 0, 0.0),
        ([{}, {"occurred_at": at(1), "event_id": ITEM_2}], 1, 0, 0.0),
        (
            [{}, {"visitor_key": "v2"}, {"visitor_key": "v3"}, {"visitor_key": "v3", "occurred_at": at(2), "event_type": "share"}],
            3,
            2,
            0.6667,
        ),
        ([{"event_type": "click"}], 0, 0, None),
        ([{"visitor_key": None}], 0, 0, None),
        ([{"event_type": "click"}, {"occurred_at": at(1), "event_id": ITEM_2}], 0, 0, None),
    ],
    ids=[
        "single-view-bounces",
        "view-then-click-no-bounce",
        "two-views-same-item-one-visit",
        "second-row-on-other-item-no-bounce",
        "two-of-three-bounce",
        "click-only-visit-not-counted",
        "keyless-view-no-visit",
        "visit-viewing-only-other-item",
    ],
)
def test_bounce_rate_is_single_row_visits_over_visits_that_viewed(rows: list[dict], visits: int, bounced: int, rate: float | None) -> None:
    """bounce_rate = visits with exactly one row in total / visits that viewed the item; NULL with no visit."""
    row = row_of(hour_rows(make_raw_events(rows)))
    assert (row["visits_count"], row["bounced_visits_count"], row["bounce_rate"]) == (visits, bounced, rate)


def test_one_visit_viewing_two_items_counts_once_for_each() -> None:
    """A visit viewing two items is one non-bounced visit of each; a third item it only clicks gets none."""
    raw = make_raw_events(
        [
            {},
            {"occurred_at": at(2), "event_id": ITEM_2},
            {"occurred_at": at(3), "event_id": ITEM_2},
            {"occurred_at": at(4), "event_id": "i3", "event_type": "click"},
        ]
    )
    hours = hour_rows(raw)
    assert [(r["event_id"], r["visits_count"], r["bounced_visits_count"]) for r in hours.iter_rows(named=True)] == [
        (ITEM, 1, 0),
        (ITEM_2, 1, 0),
        ("i3", 0, 0),
    ]


MIDNIGHT = datetime(2026, 5, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("later_row", "later_views"),
    [
        ({"event_type": "view"}, 1),
        ({"event_type": "click"}, 0),
    ],
    ids=["later-view-same-item", "later-click-same-item"],
)
def test_visit_crossing_midnight_belongs_to_first_view_hour_and_day(later_row: dict, later_views: int) -> None:
    """A 23:50 -> 00:10 visit counts in the 23:00 hour and its day, and not in the next hour or day."""
    raw = make_raw_events([{"occurred_at": MIDNIGHT - 10 * MINUTE}, {"occurred_at": MIDNIGHT + 10 * MINUTE, **later_row}])
    day_before = hour_rows(raw, MIDNIGHT - 24 * HOUR, MIDNIGHT)
    day_after = hour_rows(raw, MIDNIGHT, MIDNIGHT + 24 * HOUR)
    earlier = row_of(day_before, start=MIDNIGHT - HOUR)
    later = row_of(day_after, start=MIDNIGHT)
    assert (earlier["views_count"], earlier["visits_count"], earlier["bounced_visits_count"]) == (1, 1, 0)
    assert earlier["time_on_page_total_ms"] == 20 * 60_000
    assert (later["views_count"], later["visits_count"], later["bounced_visits_count"]) == (later_views, 0, 0)
    days = periods_of(raw, MIDNIGHT - 24 * HOUR, MIDNIGHT + 24 * HOUR, "UTC")
    assert days.select("period_start", "visits_count", "views_count").rows() == [
        (MIDNIGHT - 24 * HOUR, 1, 1),
        (MIDNIGHT, 0, later_views),
    ]


def test_item_first_viewed_after_midnight_gets_the_visit_in_the_later_hour() -> None:
    """Within one visit crossing midnight, an item first viewed after midnight belongs to the later hour."""
    raw = make_raw_events([{"occurred_at": MIDNIGHT - 10 * MINUTE}, {"occurred_at": MIDNIGHT + 10 * MINUTE, "event_id": ITEM_2}])
    before = hour_rows(raw, MIDNIGHT - HOUR, MIDNIGHT)
    after = hour_rows(raw, MIDNIGHT, MIDNIGHT + HOUR)
    assert row_of(before, ITEM, MIDNIGHT - HOUR)["visits_count"] == 1
    assert before.filter(pl.col("event_id") == ITEM_2).is_empty()
    assert (row_of(after, ITEM_2, MIDNIGHT)["visits_count"], row_of(after, ITEM_2, MIDNIGHT)["bounced_visits_count"]) == (1, 0)
    assert after.filter(pl.col("event_id") == ITEM).is_empty()


def test_visit_crossing_a_paris_day_edge_belongs_to_the_local_day_of_its_first_view() -> None:
    """In Europe/Paris a 23:50 -> 00:10 local visit counts in the first local day only."""
    local_midnight = datetime(2026, 5, 12, 22, tzinfo=UTC)
    raw = make_raw_events([{"occurred_at": local_midnight - 10 * MINUTE}, {"occurred_at": local_midnight + 10 * MINUTE}])
    days = periods_of(raw, local_midnight - 24 * HOUR, local_midnight + 24 * HOUR, "Europe/Paris")
    assert days.select("period_start", "views_count", "visits_count", "bounced_visits_count").rows() == [
        (local_midnight - 24 * HOUR, 1, 1, 0),
        (local_midnight, 1, 0, 0),
    ]


# --- Time on page ----------------------------------------------------------------------------------


INVALID_EXPLICIT = ["abc", "-5", "90000", "NaN", "inf", "", "86400.5", "-0.001"]
VALID_EXPLICIT = [
    ("42", 42_000),
    ("12.5", 12_500),
    ("0", 0),
    ("86400", 86_400_000),
    (" 7 ", 7_000),
    # Whole milliseconds, truncated, from the decimal text (2.3 * 1000 is 2299.999... in floating point).
    ("2.3", 2_300),
    ("1.001", 1_001),
    ("0.0019", 1),
    ("12.3456789", 12_345),
    ("1e3", 1_000_000),
]


@pytest.mark.parametrize(
    ("rows", "config", "total_ms", "views_with_time"),
    [
        ([{}, {"occurred_at": at(1.5), "event_type": "click"}], {}, 90_000, 1),
        ([{}], {}, 0, 0),
        ([{}, {"occurred_at": at(1)}], {}, 60_000, 1),
        ([{}, {"occurred_at": at(1), "event_id": ITEM_2}], {}, 60_000, 1),
        ([{}, {"occurred_at": at(30)}], {}, 30 * 60_000, 1),
        ([{}, {"occurred_at": at(31)}], {}, 0, 0),
        ([{}, {"occurred_at": at(45), "event_type": "click"}], {"visit_gap_minutes": 60}, 30 * 60_000, 1),
        ([{}, {"occurred_at": at(0.25), "visitor_key": "v2"}], {}, 0, 0),
        ([{"visitor_key": None}, {"occurred_at": at(1), "visitor_key": None}], {}, 0, 0),
        ([{}, {"occurred_at": at(0.5), "user_agent": BOT_UA}], {}, 0, 0),
        ([{}, {"occurred_at": at(0.5), "event_type": "hover"}], {}, 0, 0),
        ([{"event_type": "click"}, {"occurred_at": at(1), "event_type": "click"}], {}, 0, 0),
        ([{"time_on_page_seconds": "42"}], {}, 42_000, 1),
        ([{"time_on_page_seconds": "42"}, {"occurred_at": at(1.5), "event_type": "click"}], {}, 42_000, 1),
        ([{"event_type": "click", "time_on_page_seconds": "42"}], {}, 0, 0),
    ],
    ids=[
        "seconds-to-next-row",
        "last-row-unknown",
        "two-views-last-unknown",
        "next-row-other-item",
        "30-min-gap-capped-at-30-min",
        "next-row-in-other-visit",
        "long-visit-capped-at-30-min",
        "other-visitor-row-ignored",
        "keyless-views-have-no-visit",
        "bot-row-is-not-next",
        "rejected-row-is-not-next",
        "clicks-have-no-time-on-page",
        "explicit-on-last-row",
        "explicit-wins-over-measured",
        "explicit-on-a-click-ignored",
    ],
)
def test_time_on_page(rows: list[dict], config: dict, total_ms: int, views_with_time: int) -> None:
    """Time on page is the time to the next row of the visit, capped at 30 min, unless metadata gives it."""
    row = row_of(hour_rows(make_raw_events(rows), **config))
    assert (row["time_on_page_total_ms"], row["time_on_page_views"]) == (total_ms, views_with_time)


@pytest.mark.parametrize(("value", "ms"), VALID_EXPLICIT, ids=[v for v, _ in VALID_EXPLICIT])
def test_valid_explicit_time_on_page_wins_over_measured(value: str, ms: int) -> None:
    """A numeric metadata duration within 0..86 400 s replaces the measured time and fills a last row."""
    measured = make_raw_events([{"time_on_page_seconds": value}, {"occurred_at": at(2), "event_type": "click"}])
    last = make_raw_events([{"time_on_page_seconds": value}])
    assert row_of(hour_rows(measured))["time_on_page_total_ms"] == ms
    assert (row_of(hour_rows(last))["time_on_page_total_ms"], row_of(hour_rows(last))["time_on_page_views"]) == (ms, 1)


@pytest.mark.parametrize("value", INVALID_EXPLICIT, ids=[repr(v) for v in INVALID_EXPLICIT])
def test_invalid_explicit_time_on_page_is_ignored(value: str) -> None:
    """A non-numeric or out-of-range metadata duration is ignored: measured time stays, a last row stays unknown."""
    measured = make_raw_events([{"time_on_page_seconds": value}, {"occurred_at": at(2), "event_type": "click"}])
    last = make_raw_events([{"time_on_page_seconds": value}])
    assert (row_of(hour_rows(measured))["time_on_page_total_ms"], row_of(hour_rows(measured))["time_on_page_views"]) == (120_000, 1)
    assert (row_of(hour_rows(last))["time_on_page_total_ms"], row_of(hour_rows(last))["avg_time_on_page_seconds"]) == (0, None)


def test_time_on_page_of_views_tied_on_timestamp_does_not_depend_on_row_order() -> None:
    """Two views at one instant (only one with metadata 30 s), then a click 60 s later: same total in either row order."""
    rows = [{"time_on_page_seconds": "30"}, {}, {"occurred_at": at(1), "event_type": "click"}]
    metadata_first = row_of(hour_rows(make_raw_events(rows)))
    metadata_second = row_of(hour_rows(make_raw_events([rows[1], rows[0], rows[2]])))
    assert metadata_first["time_on_page_views"] == metadata_second["time_on_page_views"] == 2
    assert metadata_first["time_on_page_total_ms"] == metadata_second["time_on_page_total_ms"]


def test_average_time_on_page_of_known_times_only() -> None:
    """avg_time_on_page_seconds averages the known times and skips unknown ones: (60 + 30) / 2 = 45."""
    raw = make_raw_events([{}, {"occurred_at": at(1)}, {"occurred_at": at(1.5), "event_type": "click"}, {"visitor_key": "v2"}])
    row = row_of(hour_rows(raw))
    assert (row["time_on_page_total_ms"], row["time_on_page_views"], row["avg_time_on_page_seconds"]) == (90_000, 2, 45.0)


# --- Ratio rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_ms", "views", "avg"),
    [
        (1_005, 1, 1.01),
        (1_004, 1, 1.0),
        (2_000, 3, 0.67),
        (1_000, 3, 0.33),
        (5, 1, 0.01),
        (4, 1, 0.0),
        (0, 2, 0.0),
        (12_345, 0, None),
        (86_400_000 * 7, 7, 86_400.0),
    ],
    ids=["half-up", "below-half", "two-thirds", "one-third", "5-ms-rounds-up", "4-ms-rounds-down", "zero", "no-known-time", "large"],
)
def test_avg_time_on_page_rounds_half_up_to_hundredths(total_ms: int, views: int, avg: float | None) -> None:
    """avg_time_on_page_seconds = total_ms / views / 1000 rounded half up to 2 decimals, NULL without views."""
    frame = pl.DataFrame(
        {"time_on_page_total_ms": [total_ms], "time_on_page_views": [views], "bounced_visits_count": [0], "visits_count": [0]},
        schema={c: pl.Int64 for c in ("time_on_page_total_ms", "time_on_page_views", "bounced_visits_count", "visits_count")},
    )
    assert add_ratios(frame).get_column("avg_time_on_page_seconds").item() == avg


@pytest.mark.parametrize(
    ("bounced", "visits", "rate"),
    [(1, 3, 0.3333), (2, 3, 0.6667), (1, 8, 0.125), (1, 20_000, 0.0001), (1, 20_001, 0.0), (5, 5, 1.0), (0, 4, 0.0), (0, 0, None)],
    ids=["one-third", "two-thirds", "exact", "half-up-at-4th-decimal", "just-below-half", "all", "none-bounced", "no-visits"],
)
def test_bounce_rate_rounds_half_up_to_4_decimals(bounced: int, visits: int, rate: float | None) -> None:
    """bounce_rate = bounced / visits rounded half up to 4 decimals, NULL without visits."""
    frame = pl.DataFrame(
        {"time_on_page_total_ms": [0], "time_on_page_views": [0], "bounced_visits_count": [bounced], "visits_count": [visits]},
        schema={c: pl.Int64 for c in ("time_on_page_total_ms", "time_on_page_views", "bounced_visits_count", "visits_count")},
    )
    assert add_ratios(frame).get_column("bounce_rate").item() == rate


# --- Periods and DST -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local_day_start", "local_day_end", "local_hours"),
    [
        ("Europe/Paris", datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC), [0, 1, *range(3, 24)]),
        ("Europe/Paris", datetime(2026, 10, 24, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC), [0, 1, 2, 2, *range(3, 24)]),
        ("Europe/Paris", datetime(2026, 5, 11, 22, tzinfo=UTC), datetime(2026, 5, 12, 22, tzinfo=UTC), list(range(24))),
        ("America/Sao_Paulo", datetime(2018, 11, 4, 3, tzinfo=UTC), datetime(2018, 11, 5, 2, tzinfo=UTC), list(range(1, 24))),
    ],
    ids=["paris-spring-forward-23h", "paris-fall-back-25h", "paris-ordinary-24h", "sao-paulo-midnight-skipped-23h"],
)
def test_local_day_has_one_hour_row_per_local_clock_hour(
    tz: str, local_day_start: datetime, local_day_end: datetime, local_hours: list[int]
) -> None:
    """One view per UTC hour around a local day gives one hour row per local clock hour and one day row spanning them."""
    span = int((local_day_end - local_day_start) / HOUR)
    raw = make_raw_events(
        [{"occurred_at": local_day_start - HOUR + i * HOUR + 30 * MINUTE, "visitor_key": f"v{i}"} for i in range(span + 2)]
    )
    result = run_hours(raw, local_day_start, local_day_end, tz)
    starts = result.hours.get_column("period_start")
    assert starts.to_list() == [local_day_start + i * HOUR for i in range(len(local_hours))]
    assert starts.dt.convert_time_zone(tz).dt.hour().to_list() == local_hours
    days, _ = roll_up_periods(result.hours, result.breakdowns, result.visitor_hours, "day", tz)
    assert days.select("period_start", "period_end", "views_count", "unique_views_count").rows() == [
        (local_day_start, local_day_end, len(local_hours), len(local_hours))
    ]
    assert local_day_end - local_day_start == len(local_hours) * HOUR


def test_fall_back_repeats_local_hour_2_as_two_hour_rows() -> None:
    """On 2026-10-25 in Paris the local clock hour 02:00 occurs twice and yields two hour rows."""
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)
    raw = make_raw_events(
        [{"occurred_at": datetime(2026, 10, 25, 0, 30, tzinfo=UTC)}, {"occurred_at": datetime(2026, 10, 25, 1, 30, tzinfo=UTC)}]
    )
    hours = run_hours(raw, start, start + 25 * HOUR, "Europe/Paris").hours
    local = hours.select(pl.col("period_start").dt.convert_time_zone("Europe/Paris").dt.hour()).to_series().to_list()
    assert local == [2, 2]
    assert hours.get_column("period_start").to_list() == [datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)]


def test_kolkata_hour_rows_start_at_half_past_utc() -> None:
    """In a +05:30 zone a local clock hour starts at :30 UTC."""
    start = datetime(2026, 5, 11, 18, 30, tzinfo=UTC)
    raw = make_raw_events([{"occurred_at": datetime(2026, 5, 12, 10, 15, tzinfo=UTC)}])
    hours = run_hours(raw, start, start + 24 * HOUR, "Asia/Kolkata").hours
    assert hours.select("period_start", "period_end").row(0) == (
        datetime(2026, 5, 12, 9, 30, tzinfo=UTC),
        datetime(2026, 5, 12, 10, 30, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("tz", "moments", "weeks"),
    [
        (
            "Europe/Paris",
            [datetime(2026, 5, 17, 21, 30, tzinfo=UTC), datetime(2026, 5, 17, 22, 30, tzinfo=UTC)],
            [
                (datetime(2026, 5, 10, 22, tzinfo=UTC), datetime(2026, 5, 17, 22, tzinfo=UTC), 1),
                (datetime(2026, 5, 17, 22, tzinfo=UTC), datetime(2026, 5, 24, 22, tzinfo=UTC), 1),
            ],
        ),
        (
            "UTC",
            [datetime(2026, 5, 17, 21, 30, tzinfo=UTC), datetime(2026, 5, 17, 22, 30, tzinfo=UTC)],
            [(datetime(2026, 5, 11, tzinfo=UTC), datetime(2026, 5, 18, tzinfo=UTC), 2)],
        ),
        (
            "UTC",
            [datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2025, 12, 29, 0, 5, tzinfo=UTC)],
            [(datetime(2025, 12, 29, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC), 2)],
        ),
        (
            "Europe/Paris",
            [datetime(2026, 3, 29, 12, tzinfo=UTC)],
            [(datetime(2026, 3, 22, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC), 1)],
        ),
    ],
    ids=["paris-sunday-night-vs-monday", "utc-same-instants-one-week", "iso-week-across-new-year", "paris-week-with-spring-forward"],
)
def test_iso_week_starts_monday_local_midnight(tz: str, moments: list[datetime], weeks: list[tuple]) -> None:
    """Week rows run from a local Monday midnight to the next one."""
    raw = make_raw_events([{"occurred_at": m, "visitor_key": f"v{i}"} for i, m in enumerate(moments)])
    periods = periods_of(raw, datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), tz, "week")
    assert periods.select("period_start", "period_end", "views_count").rows() == weeks
    assert all(start.astimezone(ZoneInfo(tz)).weekday() == 0 for start, _, _ in weeks)


@pytest.mark.parametrize(
    ("tz", "moment", "bounds"),
    [
        ("UTC", datetime(2026, 2, 28, 23, 30, tzinfo=UTC), (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))),
        (
            "Europe/Paris",
            datetime(2026, 2, 28, 23, 30, tzinfo=UTC),
            (datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC)),
        ),
        ("UTC", datetime(2026, 12, 31, 23, 59, tzinfo=UTC), (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))),
        (
            "Europe/Paris",
            datetime(2026, 10, 31, 22, 59, tzinfo=UTC),
            (datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)),
        ),
    ],
    ids=["utc-february", "paris-march-starts-in-utc-february", "utc-december-into-next-year", "paris-october-25-days-later-dst"],
)
def test_month_bounds_are_local_first_days(tz: str, moment: datetime, bounds: tuple[datetime, datetime]) -> None:
    """A month row runs from local midnight of the 1st to local midnight of the next month's 1st."""
    raw = make_raw_events([{"occurred_at": moment}])
    months = periods_of(raw, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC), tz, "month")
    assert months.select("period_start", "period_end").rows() == [bounds]


def test_day_unique_views_are_exact_not_sums_of_hours() -> None:
    """A visitor seen in two hours of a day counts once in the day's unique views."""
    raw = make_raw_events([{}, {"occurred_at": at(120)}, {"occurred_at": at(240), "visitor_key": "v2"}])
    result = run_hours(raw, T0 - 10 * HOUR, T0 + 14 * HOUR)
    days, _ = roll_up_periods(result.hours, result.breakdowns, result.visitor_hours, "day", "UTC")
    assert result.hours.get_column("unique_views_count").sum() == 3
    assert days.select("views_count", "unique_views_count").row(0) == (3, 2)


# --- Peaks ----------------------------------------------------------------------------------------------


def _peak_breakdowns(dimension: str, views: dict[str, int]) -> pl.DataFrame:
    """all_time breakdown rows of ITEM for one histogram dimension."""
    return pl.DataFrame(
        [
            {
                "event_id": ITEM,
                "period_type": "all_time",
                "period_start": datetime(1970, 1, 1, tzinfo=UTC),
                "dimension": dimension,
                "key": k,
                "views": v,
            }
            for k, v in views.items()
        ],
        schema=BREAKDOWNS,
    )


@pytest.mark.parametrize(
    ("views", "peak"),
    [
        ({"14": 5, "9": 5, "20": 3}, "9"),
        ({"23": 2, "0": 2}, "0"),
        ({"10": 4, "2": 4, "1": 3}, "2"),
        ({"7": 1, "8": 6}, "8"),
        ({"3": 0, "4": 1}, "4"),
    ],
    ids=["numeric-not-lexical-order", "midnight-beats-23", "2-beats-10", "strict-max", "zero-views-ignored"],
)
def test_peak_hour_ties_go_to_the_earliest_hour(views: dict[str, int], peak: str) -> None:
    """peak_of(hour_of_day) picks the most viewed hour, the earliest one on ties."""
    assert peak_of(_peak_breakdowns("hour_of_day", views), "hour_of_day").rows() == [(ITEM, peak)]


@pytest.mark.parametrize(
    ("views", "peak"),
    [
        ({"Sunday": 4, "Monday": 4}, "Monday"),
        ({"Saturday": 4, "Wednesday": 4, "Friday": 1}, "Wednesday"),
        ({"Sunday": 3, "Saturday": 3}, "Saturday"),
        ({"Tuesday": 1, "Sunday": 9}, "Sunday"),
    ],
    ids=["monday-beats-sunday", "wednesday-beats-saturday", "saturday-beats-sunday", "strict-max"],
)
def test_peak_day_ties_go_to_the_first_day_monday_first(views: dict[str, int], peak: str) -> None:
    """peak_of(weekday) picks the most viewed weekday, Monday-first on ties."""
    assert peak_of(_peak_breakdowns("weekday", views), "weekday").rows() == [(ITEM, peak)]


def test_peaks_from_hour_rows_use_local_hour_and_weekday() -> None:
    """all_time histograms from Paris hour rows: ties between 09:00 and 14:00 local go to 9, Sunday vs Monday to Monday."""
    sunday_9 = datetime(2026, 5, 17, 7, 15, tzinfo=UTC)
    monday_14 = datetime(2026, 5, 18, 12, 15, tzinfo=UTC)
    raw = make_raw_events([{"occurred_at": sunday_9}, {"occurred_at": monday_14}])
    result = run_hours(raw, datetime(2026, 5, 16, 22, tzinfo=UTC), datetime(2026, 5, 18, 22, tzinfo=UTC), "Europe/Paris")
    empty = (pl.DataFrame(schema=PERIOD_METRICS), pl.DataFrame(schema=BREAKDOWNS))
    _, breakdowns = advance_all_time(*empty, removed=empty, added=(result.hours, result.breakdowns), timezone_name="Europe/Paris")
    assert peak_of(breakdowns, "hour_of_day").rows() == [(ITEM, "9")]
    assert peak_of(breakdowns, "weekday").rows() == [(ITEM, "Monday")]


# --- Items without views, rejected rows ----------------------------------------------------------------


def test_item_with_only_clicks_has_zero_uniques_null_ratios_and_no_breakdowns() -> None:
    """An item only clicked has a row with zero views and uniques, NULL ratios, no breakdown or visitor-hour."""
    raw = make_raw_events(
        [{"event_type": "click"}, {"event_type": "click", "occurred_at": at(1), "visitor_key": "v2"}, {"event_type": "share"}]
    )
    result = run_hours(raw, T0, T0 + HOUR)
    row = row_of(add_ratios(result.hours))
    assert {c: row[c] for c in (*COUNT_COLUMNS, "unique_views_count", "visits_count")} == {
        "views_count": 0,
        "clicks_count": 2,
        "shares_count": 1,
        "favorites_count": 0,
        "ticket_clicks": 0,
        "external_url_clicks": 0,
        "unique_views_count": 0,
        "visits_count": 0,
    }
    assert (row["avg_time_on_page_seconds"], row["bounce_rate"], row["first_view_at"], row["last_view_at"]) == (None, None, None, None)
    assert result.breakdowns.is_empty()
    assert result.visitor_hours.is_empty()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"occurred_at": None}], {"missing_timestamp": 1}),
        ([{"event_id": None}], {"missing_item": 1}),
        ([{"event_type": "hover"}, {"event_type": "VIEW"}, {"event_type": None}, {"event_type": " view"}], {"unknown_type": 4}),
        ([{"occurred_at": None, "event_id": None, "event_type": "hover"}], {"missing_timestamp": 1}),
        ([{"event_id": None, "event_type": "scroll"}], {"missing_item": 1}),
        ([{}, {"event_type": "click"}], {}),
        (
            [
                {"occurred_at": datetime(9999, 6, 1, tzinfo=UTC)},
                {"occurred_at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "event_id": None},
            ],
            {"timestamp_out_of_range": 2},
        ),
        ([{"occurred_at": LATEST_TIMESTAMP - timedelta(microseconds=1)}, {"occurred_at": EARLIEST_TIMESTAMP}], {}),
    ],
    ids=[
        "null-timestamp",
        "null-item",
        "unknown-types",
        "first-reason-wins",
        "item-before-type",
        "valid-rows",
        "out-of-range",
        "range-edges",
    ],
)
def test_split_rejected_counts_each_row_under_its_first_reason(rows: list[dict], expected: dict[str, int]) -> None:
    """split_rejected keeps valid rows and counts rejected ones by reason, zeros included."""
    raw = make_raw_events([*rows, {"visitor_key": "kept"}])
    valid, counts = split_rejected(raw)
    assert counts == {reason: expected.get(reason, 0) for reason in REJECTION_REASONS}
    assert valid.height == raw.height - sum(expected.values())
    assert "kept" in valid.get_column("visitor_key").to_list()
    assert valid.schema == raw.schema


def test_rejected_rows_are_in_no_metric_and_in_the_report() -> None:
    """Rejected rows inside the window are counted by reason in the report and nowhere else."""
    raw = make_raw_events(
        [
            {},
            {"event_type": "hover", "visitor_key": "v2"},
            {"event_type": "Click"},
            {"event_id": None, "visitor_key": "v3"},
            {"occurred_at": at(90), "event_type": "bogus"},
        ]
    )
    result = run_hours(raw, T0, T0 + HOUR)
    row = row_of(result.hours)
    assert (row["views_count"], row["clicks_count"], row["unique_views_count"], row["bounced_visits_count"]) == (1, 0, 1, 1)
    assert result.visitor_hours.get_column("visitor_key").to_list() == ["v1"]
    assert result.report["rows_rejected"] == {"missing_timestamp": 0, "timestamp_out_of_range": 0, "missing_item": 1, "unknown_type": 2}
    assert (result.report["rows_read"], result.report["rows_counted"]) == (4, 1)
