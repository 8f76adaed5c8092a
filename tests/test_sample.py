"""Tests for the deterministic sample-data generator and its COPY loader."""

from __future__ import annotations

import ipaddress
import itertools
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from data import EVEN
from data.sample import (
    GENERATE_CHUNK_ROWS,
    ITEMS_SCHEMA,
    SAMPLE_RAW_EVENTS,
    generate_items,
    generate_raw_events,
    generate_sample,
    iter_raw_events,
)
from flows.database import migrate
from transforms.schemas import EVENT_TYPES

END = datetime(2025, 6, 2, 7, 30, tzinfo=UTC)
BOT_PATTERN = r"(?i)bot|facebookexternalhit|whatsapp|headlesschrome|curl/|python-requests"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@pytest.fixture(scope="module")
def items() -> pl.DataFrame:
    """A fixed catalogue of items."""
    return generate_items(120, seed=11, around=END)


@pytest.fixture(scope="module", params=[200_000, 30_000], ids=["one-frame", "in-chunks"])
def chunk_rows(request: pytest.FixtureRequest) -> int:
    """Every property holds for a sample drawn as one frame and for one drawn in chunks."""
    return request.param


@pytest.fixture(scope="module")
def events(items: pl.DataFrame, chunk_rows: int) -> pl.DataFrame:
    """A sample large enough for proportions to settle."""
    return pl.concat(list(iter_raw_events(200_000, 14, 5, END, items, chunk_rows)))


def visitor_key() -> pl.Expr:
    """The pipeline's visitor identity."""
    return pl.coalesce("user_id", "session_id")


def test_items_have_the_events_table_shape(items: pl.DataFrame) -> None:
    assert items.schema == ITEMS_SCHEMA
    assert items.height == 120
    assert items["id"].n_unique() == 120
    assert items["id"].str.contains(UUID_PATTERN).all()
    assert items["title"].null_count() == 0 and (items["title"].str.len_chars() > 3).all()
    statuses = items["status"].value_counts(normalize=True)
    shares = dict(zip(statuses["status"], statuses["proportion"], strict=True))
    assert set(shares) <= {"approved", "draft", "cancelled"}
    assert shares["approved"] > 0.7


def test_same_seed_gives_the_same_frames(items: pl.DataFrame, events: pl.DataFrame, chunk_rows: int) -> None:
    assert generate_items(120, seed=11, around=END).equals(items)
    assert pl.concat(list(iter_raw_events(200_000, 14, 5, END, items, chunk_rows))).equals(events)
    assert generate_raw_events(200_000, 14, 5, END, items).equals(
        pl.concat(list(iter_raw_events(200_000, 14, 5, END, items, GENERATE_CHUNK_ROWS)))
    )


def test_chunks_are_bounded_and_sorted_across_chunks(items: pl.DataFrame) -> None:
    chunks = list(iter_raw_events(200_000, 14, 5, END, items, 30_000))
    assert len(chunks) > 3
    assert max(chunk.height for chunk in chunks) < 2 * 30_000
    for before, after in itertools.pairwise(chunks):
        assert before["timestamp"].drop_nulls().max() <= after["timestamp"].drop_nulls().min()


def test_different_seed_gives_different_frames(items: pl.DataFrame) -> None:
    assert not generate_items(120, seed=12, around=END).equals(items)
    first = generate_raw_events(2_000, 3, 1, END, items)
    second = generate_raw_events(2_000, 3, 2, END, items)
    assert not first.equals(second)
    assert first["id"].is_in(second["id"].implode()).sum() == 0


def test_raw_rows_have_the_exact_schema(events: pl.DataFrame) -> None:
    assert events.schema == SAMPLE_RAW_EVENTS
    assert events.height == 200_000
    assert events["id"].n_unique() == events.height
    assert events["id"].str.contains(UUID_PATTERN).all()
    assert events.drop_nulls("user_id")["user_id"].str.contains(UUID_PATTERN).all()
    for column in ("id", "event_type", "ip_address", "page_url", "metadata"):
        assert events[column].null_count() == 0, column


def test_zero_rows_and_bad_arguments(items: pl.DataFrame) -> None:
    assert generate_raw_events(0, 1, 1, END, items).schema == SAMPLE_RAW_EVENTS
    with pytest.raises(ValueError):
        generate_raw_events(10, 0, 1, END, items)
    with pytest.raises(ValueError):
        generate_raw_events(10, 1, 1, END, items.clear())


def test_timestamps_stay_in_the_window(events: pl.DataFrame) -> None:
    stamps = events["timestamp"].drop_nulls()
    assert stamps.min() >= END - timedelta(days=14)
    assert stamps.max() < END
    assert stamps.is_sorted()


def test_naive_end_is_taken_as_utc(items: pl.DataFrame) -> None:
    naive = generate_raw_events(500, 2, 3, END.replace(tzinfo=None), items)
    assert naive.equals(generate_raw_events(500, 2, 3, END, items))


def test_each_kind_of_bad_row_is_present(events: pl.DataFrame) -> None:
    unknown = events.filter(~pl.col("event_type").is_in(EVENT_TYPES))
    assert 100 <= unknown.height <= 300
    assert 50 <= events["event_id"].null_count() <= 150
    assert 20 <= events["timestamp"].null_count() <= 60
    small = generate_raw_events(5_000, 2, 9, END, generate_items(20, 9))
    assert small.filter(~pl.col("event_type").is_in(EVENT_TYPES)).height >= 1
    assert small["event_id"].null_count() >= 1
    assert small["timestamp"].null_count() >= 1


def test_event_type_mix(events: pl.DataFrame) -> None:
    shares = dict(events["event_type"].value_counts(normalize=True).iter_rows())
    assert 0.62 <= shares["view"] <= 0.78
    assert 0.08 <= shares["click"] <= 0.16
    for kind in ("ticket_click", "external_click", "share", "favorite"):
        assert 0.02 <= shares[kind] <= 0.09, kind


def test_visitors_are_mostly_anonymous_and_return(events: pl.DataFrame) -> None:
    signed_in = events["user_id"].is_not_null().mean()
    assert 0.20 <= signed_in <= 0.40
    assert events.filter(pl.col("user_id").is_not_null() & pl.col("session_id").is_null()).height == 0
    keyless = events.filter(pl.col("user_id").is_null() & pl.col("session_id").is_null()).height / events.height
    assert 0.002 <= keyless <= 0.03
    views = events.filter(pl.col("event_type") == "view")
    visitors = views.select(visitor_key().n_unique()).item()
    assert visitors < 0.4 * views.height
    days_per_visitor = events.drop_nulls("timestamp").group_by(visitor_key()).agg(pl.col("timestamp").dt.date().n_unique().alias("days"))
    assert (days_per_visitor["days"] > 1).mean() > 0.2


def test_visits_are_short_and_a_third_are_bounces(events: pl.DataFrame) -> None:
    visits = (
        events.drop_nulls("timestamp")
        .filter(visitor_key().is_not_null() & ~pl.col("user_agent").str.contains(BOT_PATTERN).fill_null(False))
        .with_columns(visitor=visitor_key())
        .sort("visitor", "timestamp")
        .with_columns(new_visit=(pl.col("timestamp").diff().over("visitor") > pl.duration(minutes=30)).fill_null(True))
        .with_columns(visit=pl.col("new_visit").cum_sum())
        .group_by("visit")
        .agg(rows=pl.len(), items=pl.col("event_id").n_unique())
    )
    assert 0.25 <= (visits["rows"] == 1).mean() <= 0.45
    assert (visits["items"] > 1).mean() > 0.1


def test_agents_bots_and_devices(events: pl.DataFrame) -> None:
    agents = events["user_agent"]
    bots = agents.str.contains(BOT_PATTERN).fill_null(False).mean()
    assert 0.02 <= bots <= 0.07
    missing = (agents.is_null() | (agents == "")).mean()
    assert 0.001 <= missing <= 0.012
    assert agents.is_null().any() and (agents == "").any()
    for marker in (
        "iPhone",
        "Android",
        "iPad",
        "Windows NT",
        "Macintosh",
        "CrOS",
        "FBAN",
        "Instagram",
        "Googlebot",
    ):
        assert agents.str.contains(marker, literal=True).any(), marker
    per_visitor = events.filter(visitor_key().is_not_null()).group_by(visitor_key()).agg(pl.col("user_agent").n_unique())
    assert (per_visitor["user_agent"] == 1).all()


def test_referrers_and_campaigns(events: pl.DataFrame) -> None:
    referrers = events["referrer"]
    direct = (referrers.is_null() | (referrers == "")).mean()
    assert 0.25 <= direct <= 0.45
    for host in (
        "www.google.com",
        "www.google.fr",
        "l.facebook.com",
        "t.co",
        "www.example-events.com",
        "someblog",
    ):
        assert referrers.str.contains(host, literal=True).any(), host
    assert (referrers == "not a url").any()
    assert events["page_url"].str.starts_with("https://www.example-events.com/events/").all()
    campaigns = events["page_url"].str.contains("utm_source=", literal=True).mean()
    assert 0.05 <= campaigns <= 0.15
    assert events["page_url"].str.contains("utm_source=Newsletter", literal=True).any()


def test_metadata_is_json_with_consistent_demographics(events: pl.DataFrame) -> None:
    parsed = [json.loads(text) for text in events["metadata"].to_list()]
    assert all(isinstance(value, dict) for value in parsed)
    assert sum(value == {} for value in parsed) / len(parsed) > 0.6
    times = [value["time_on_page_seconds"] for value in parsed if "time_on_page_seconds" in value]
    assert all(1 <= seconds <= 600 for seconds in times)
    views = events.filter(pl.col("event_type") == "view")
    with_time = views["metadata"].str.contains("time_on_page_seconds", literal=True).mean()
    assert 0.12 <= with_time <= 0.28
    demographics = events.with_columns(
        age=pl.col("metadata").str.json_path_match("$.age_group"),
        gender=pl.col("metadata").str.json_path_match("$.gender"),
    ).filter(pl.col("age").is_not_null())
    assert demographics["user_id"].is_not_null().all()
    assert set(demographics["age"]) <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    assert set(demographics["gender"]) <= {"female", "male", "non-binary"}
    per_user = demographics.group_by("user_id").agg(pl.col("age", "gender").n_unique())
    assert per_user["age"].max() == 1 and per_user["gender"].max() == 1


def test_addresses_parse_and_include_ipv6(events: pl.DataFrame) -> None:
    addresses = [ipaddress.ip_address(text) for text in events["ip_address"].unique().to_list()]
    assert any(address.version == 6 for address in addresses)
    assert sum(address.version == 4 for address in addresses) > 0.8 * len(addresses)


def test_popularity_is_skewed_and_traffic_has_rhythm(events: pl.DataFrame) -> None:
    per_item = events.drop_nulls("event_id").group_by("event_id").len().sort("len", descending=True)
    assert per_item["len"][0] > 10 * per_item["len"].median()
    stamps = events.drop_nulls("timestamp")
    by_hour = dict(stamps.group_by(pl.col("timestamp").dt.hour()).len().iter_rows())
    assert by_hour[20] > 5 * by_hour[4]
    by_weekday = dict(stamps.group_by(pl.col("timestamp").dt.weekday()).len().iter_rows())
    assert by_weekday[6] > 1.3 * by_weekday[2]


@pytest.mark.parametrize("chunk_rows", [200_000, 30_000], ids=["one-frame", "in-chunks"])
def test_even_spread_has_no_favourite_item_or_hour(items: pl.DataFrame, chunk_rows: int) -> None:
    """`--spread even`: items and hours alike, so more (item, hour) pairs hold rows than in the
    natural sample drawn from the same seed."""
    even = pl.concat(list(iter_raw_events(200_000, 14, 5, END, items, chunk_rows, spread=EVEN)))
    natural = pl.concat(list(iter_raw_events(200_000, 14, 5, END, items, chunk_rows)))
    assert even.height == natural.height == 200_000
    per_item = even.drop_nulls("event_id").group_by("event_id").len()["len"]
    assert per_item.len() == items.height
    assert per_item.max() < 1.6 * per_item.min()
    by_hour = even.drop_nulls("timestamp").group_by(pl.col("timestamp").dt.hour()).len()["len"]
    assert by_hour.len() == 24
    assert by_hour.max() < 1.2 * by_hour.min()

    def item_hours(frame: pl.DataFrame) -> int:
        return frame.drop_nulls(["event_id", "timestamp"]).select("event_id", pl.col("timestamp").dt.truncate("1h")).n_unique()

    assert item_hours(even) > 1.3 * item_hours(natural)
    with pytest.raises(ValueError, match="spread must be one of natural, even"):
        next(iter_raw_events(10, 1, 1, END, items, spread="uniform"))


@pytest.mark.parametrize("copy_chunk_rows", [GENERATE_CHUNK_ROWS, 1_000], ids=["one-copy", "a-copy-per-chunk"])
def test_round_trip_through_postgresql(scratch_database_url: str, copy_chunk_rows: int) -> None:
    with psycopg.connect(scratch_database_url) as conn:
        migrate(conn)
        counts = generate_sample(conn, rows=5_000, days=3, seed=21, end=END, items=30, chunk_rows=copy_chunk_rows)
        conn.commit()
        stored = conn.execute(
            """
            select id::text, event_id::text, event_type, user_id::text, session_id, referrer, user_agent,
                   host(ip_address), page_url, timestamp, metadata::text
            from event_analytics_events
            """
        ).fetchall()
        stored_items = conn.execute("select id::text, title, date, status from events").fetchall()
        empties = conn.execute(
            """
            select count(*) filter (where user_agent is null), count(*) filter (where user_agent = ''),
                   count(*) filter (where referrer is null), count(*) filter (where referrer = '')
            from event_analytics_events
            """
        ).fetchone()

    items = generate_items(30, 21, around=END)
    events = pl.concat(list(iter_raw_events(5_000, 3, 21, END, items, copy_chunk_rows)))
    assert counts == {"items": 30, "raw_events": 5_000}
    assert events["user_agent"].is_null().any() and (events["user_agent"] == "").any()
    assert empties == (
        events["user_agent"].null_count(),
        (events["user_agent"] == "").sum(),
        events["referrer"].null_count(),
        (events["referrer"] == "").sum(),
    )

    loaded = pl.DataFrame(stored, schema=SAMPLE_RAW_EVENTS, orient="row")
    expected = events.with_columns(pl.col("ip_address").map_elements(lambda text: str(ipaddress.ip_address(text)), return_dtype=pl.String))
    columns = [name for name in SAMPLE_RAW_EVENTS if name != "metadata"]
    assert_frame_equal(loaded.sort("id").select(columns), expected.sort("id").select(columns))
    assert [json.loads(text) for text in loaded.sort("id")["metadata"]] == [json.loads(text) for text in expected.sort("id")["metadata"]]
    assert pl.DataFrame(stored_items, schema=ITEMS_SCHEMA, orient="row").sort("id").equals(items.sort("id"))
