"""Hostile raw text never fails a window: a real hourly run, and arbitrary text through the real load path."""

from __future__ import annotations

import json
import random
import string
from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.database import Database
from flows.load import write_window
from flows.runs import hourly
from flows.settings import load_settings
from tests.transforms.factories import BOT_UA, DESKTOP_UA, ITEM, ITEM_2, MOBILE_UA, PAGE_URL, make_raw_events, metric_config
from transforms.pipeline import compute_hours

HOUR_START = datetime(2026, 6, 10, 9, tzinfo=UTC)
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
HOSTILE_UTM = ("%00", "%ff", "%C0%80", "%ED%A0%80")
ODD_AGE_GROUP = '18"24\\\n\\.\n\t' + "é" * 300  # quote, backslash, a COPY end-marker line, tab, too long

# Sums every breakdown column's values and compares them with views_count, row by row.
BREAKDOWN_SUM_MISMATCHES = """
select count(*) from event_analytics
where (select coalesce(sum(value::bigint), 0) from jsonb_each_text(traffic_sources)) <> views_count
   or (select coalesce(sum(value::bigint), 0) from jsonb_each_text(device_types)) <> views_count
"""


@pytest.fixture
def hostile_rows(database_url: str) -> str:
    """One item viewed in one hour: four page URLs whose utm_source decodes to no text, odd
    metadata, and a visitor key too long for a btree entry."""
    # Random letters do not compress, so the key really is too long for the index.
    huge_session = "".join(random.Random(5).choices(string.ascii_letters + string.digits, k=8000))
    rows = [
        (f"{PAGE_URL}?utm_source={utm}&utm_medium=email", f"s{i}", json.dumps({"age_group": ODD_AGE_GROUP, "gender": "\\u0000"}))
        for i, utm in enumerate(HOSTILE_UTM)
    ]
    rows.append((f"{PAGE_URL}?utm_source=Newsletter", huge_session, "{}"))
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into events (id, title) values (%s, 'X')", (ITEM,))
        with conn.cursor() as cursor:
            cursor.executemany(
                'insert into event_analytics_events (event_id, event_type, session_id, user_agent, page_url, metadata, "timestamp") '
                "values (%s, 'view', %s, %s, %s, %s, %s)",
                [
                    (ITEM, session, CHROME, url, metadata, HOUR_START + timedelta(minutes=10 * i))
                    for i, (url, session, metadata) in enumerate(rows)
                ],
            )
    return database_url


@pytest.mark.usefixtures("prefect_server")
def test_an_hourly_run_over_hostile_rows_succeeds_and_counts_them_as_other(hostile_rows: str) -> None:
    figures = hourly(as_of=HOUR_START + timedelta(hours=1, minutes=5), lookback_hours=0)
    assert figures["rows_read"] == 5
    with psycopg.connect(hostile_rows) as conn:
        hour = conn.execute(
            "select views_count, unique_views_count, traffic_sources, age_groups, genders from event_analytics "
            "where period_type = 'hour' and period_start = %s",
            (HOUR_START,),
        ).fetchone()
        assert hour[:2] == (5, 5)
        assert hour[2] == {"other": 4, "newsletter": 1}
        assert hour[3] == {"other": 4}  # longer than a key may be
        assert hour[4] == {"\\u0000": 4}  # the text of an escape, not a NUL: stored as it is
        assert conn.execute(BREAKDOWN_SUM_MISMATCHES).fetchone()[0] == 0
        assert conn.execute("select views_count from event_analytics where period_type = 'all_time'").fetchone()[0] == 5
        assert conn.execute("select count(*) from event_analytics_visitors").fetchone()[0] == 5


# --- arbitrary text through compute_hours and the real load path ---------------------------------

WINDOW_START = datetime(2026, 6, 10, 0, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(hours=3)
ESCAPED_BYTES = st.binary(max_size=12).map(lambda raw: "".join(f"%{byte:02X}" for byte in raw))
# Every code point Hypothesis draws, control characters and NUL included (surrogates cannot be in a Polars string).
ANY_TEXT = st.text(max_size=30)
# Values known to have broken a window, drawn often so that every run meets them.
KNOWN_HOSTILE = ("\x00", "a\x00b", "%00", "%ff", "%C0%80", "%ED%A0%80", "x" * 3000, "\\.", "\n\\.\n", '"', "\\", "\t", "\r\n")
HOSTILE_TEXT = st.one_of(st.sampled_from(KNOWN_HOSTILE), ANY_TEXT, ESCAPED_BYTES, st.builds(str.__add__, ANY_TEXT, ESCAPED_BYTES))
PAGE_URLS = st.one_of(st.none(), HOSTILE_TEXT, st.builds(lambda text: f"{PAGE_URL}?utm_source={text}", HOSTILE_TEXT))
REFERRERS = st.one_of(st.none(), HOSTILE_TEXT, st.builds(lambda text: f"https://{text}/", HOSTILE_TEXT))
USER_AGENTS = st.one_of(st.none(), st.sampled_from([DESKTOP_UA, MOBILE_UA, BOT_UA]), HOSTILE_TEXT)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "event_id": st.sampled_from([ITEM, ITEM_2]),
            "event_type": st.sampled_from(["view", "view", "view", "click", "hover"]),
            "visitor_key": st.one_of(st.none(), st.sampled_from(["v1", "v2"]), HOSTILE_TEXT),
            "referrer": REFERRERS,
            "user_agent": USER_AGENTS,
            "page_url": PAGE_URLS,
            "occurred_at": st.integers(-60, 200).map(lambda minutes: WINDOW_START + timedelta(minutes=minutes)),
            "time_on_page_seconds": st.one_of(st.none(), HOSTILE_TEXT),
            "age_group": st.one_of(st.none(), HOSTILE_TEXT),
            "gender": st.one_of(st.none(), HOSTILE_TEXT),
        }
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def items_database(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        conn.execute("insert into events (id, title) values (%s, 'X'), (%s, 'Y')", (ITEM, ITEM_2))
    return database_url


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=ROWS)
@example(rows=[{"page_url": f"{PAGE_URL}?utm_source=%00"}, {"visitor_key": "a\x00", "age_group": "\x00", "gender": "x" * 3000}])
def test_arbitrary_text_is_computed_and_written_and_breakdowns_sum_to_views(items_database: str, rows: list[dict]) -> None:
    raw = make_raw_events(rows)
    result = compute_hours(raw, WINDOW_START, WINDOW_END, metric_config())
    with Database(items_database, load_settings()).connect() as conn:
        # Each example starts from nothing (the fixture's database is shared by the examples).
        conn.execute("truncate event_analytics, event_analytics_summary, event_analytics_visitor_hours, event_analytics_visitors")
        write_window(conn, result, WINDOW_START, WINDOW_END, timezone_name="UTC", roll_up_types=["day"], as_of=WINDOW_END)
        assert conn.execute(BREAKDOWN_SUM_MISMATCHES).fetchone()[0] == 0
        stored = conn.execute("select coalesce(sum(views_count), 0) from event_analytics where period_type = 'hour'").fetchone()[0]
        assert stored == result.hours["views_count"].sum()
        visitors = conn.execute("select count(*) from event_analytics_visitor_hours").fetchone()[0]
        assert visitors == result.visitor_hours.height
    assert result.hours.select(pl.col("unique_views_count") <= pl.col("views_count")).to_series().all()
