"""The Polars path against an independent DuckDB SQL implementation of the spec, on generated sample rows.

DuckDB reads the sample's raw columns (timestamp, user_id, session_id, metadata JSON) itself; only the
user-agent classes and the traffic source of each (referrer, page_url) pair come from the Python
classifiers, which have their own tests. Buckets, uniques, visits and time on page are SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from data.reference import load_bot_patterns, load_known_sources
from data.sample import generate_items, generate_raw_events
from tests.transforms.factories import SITE_HOSTS, run_hours, sample_to_raw
from transforms.devices import classify_user_agents
from transforms.metrics import BREAKDOWNS
from transforms.rollups import roll_up_periods
from transforms.schemas import EVENT_TYPES
from transforms.sources import classify_traffic_sources

# Five days ending on 2026-03-31: Paris springs forward on the 29th.
END = datetime(2026, 3, 31, tzinfo=UTC)
DAYS = 5
SEED = 20260329
TIMEZONES = ["UTC", "Europe/Paris", "Asia/Kolkata"]

COMPARED = [
    "event_id",
    "period_start",
    "period_end",
    "views_count",
    "unique_views_count",
    "clicks_count",
    "shares_count",
    "favorites_count",
    "ticket_clicks",
    "external_url_clicks",
    "visits_count",
    "bounced_visits_count",
    "time_on_page_total_ms",
    "time_on_page_views",
    "first_view_at",
    "last_view_at",
]
DIMENSIONS = {"traffic_sources": "traffic_source", "device_types": "device_type", "age_groups": "age_group", "genders": "gender"}

SQL_EVENTS = """
create or replace temp table counted as
select
    s.event_id,
    s.event_type,
    coalesce(s.user_id, s.session_id) as visitor_key,
    s."timestamp" as occurred_at,
    coalesce(u.device_type, 'other') as device_type,
    t.traffic_source,
    s.metadata ->> 'age_group' as age_group,
    s.metadata ->> 'gender' as gender,
    try_cast(trim(s.metadata ->> 'time_on_page_seconds') as double) as explicit_seconds,
    try_cast(trim(s.metadata ->> 'time_on_page_seconds') as decimal(18, 6)) as explicit_decimal,
    s.page_url,
    s.referrer,
    s.id as row_id
from sample s
left join ua_classes u on u.user_agent = s.user_agent
left join sources t on t.referrer is not distinct from s.referrer and t.page_url is not distinct from s.page_url
where s."timestamp" is not null
  and s.event_id is not null
  and s.event_type in ({types})
  and not coalesce(u.is_bot, false);

create or replace temp table visited as
with ordered as (
    select *,
        lag(occurred_at) over w as previous_at,
        lead(occurred_at) over w as next_at
    from counted
    where visitor_key is not null
    window w as (partition by visitor_key order by occurred_at, event_id, event_type, page_url, referrer)
), numbered as (
    select *,
        sum(case when previous_at is null or occurred_at - previous_at > interval 30 minutes then 1 else 0 end)
            over (partition by visitor_key order by occurred_at, event_id, event_type, page_url, referrer rows unbounded preceding) as visit
    from ordered
)
select *,
    count(*) over (partition by visitor_key, visit) as visit_rows,
    lead(occurred_at) over (partition by visitor_key, visit order by occurred_at, event_id, event_type, page_url, referrer) as next_in_visit
from numbered;

create or replace temp table timed as
select
    c.*,
    case
        when c.event_type <> 'view' then null
        when isfinite(c.explicit_seconds) and c.explicit_seconds between 0 and 86400 then trunc(c.explicit_decimal * 1000)::bigint
        when v.next_in_visit is not null then least((epoch_us(v.next_in_visit) - epoch_us(c.occurred_at)) // 1000, 1800000)
    end as time_ms
from counted c
left join visited v using (row_id);

create or replace temp table item_visits as
select event_id, min(occurred_at) as first_view_at, any_value(visit_rows) = 1 as bounced
from visited
where event_type = 'view'
group by visitor_key, visit, event_id;
"""

SQL_PERIODS = """
with counts as (
    select
        event_id,
        date_trunc('{unit}', occurred_at) as bucket,
        count(*) filter (where event_type = 'view') as views_count,
        count(distinct visitor_key) filter (where event_type = 'view') as unique_views_count,
        count(*) filter (where event_type = 'click') as clicks_count,
        count(*) filter (where event_type = 'share') as shares_count,
        count(*) filter (where event_type = 'favorite') as favorites_count,
        count(*) filter (where event_type = 'ticket_click') as ticket_clicks,
        count(*) filter (where event_type = 'external_click') as external_url_clicks,
        coalesce(sum(time_ms), 0)::bigint as time_on_page_total_ms,
        count(time_ms) as time_on_page_views,
        min(occurred_at) filter (where event_type = 'view') as first_view_at,
        max(occurred_at) filter (where event_type = 'view') as last_view_at
    from timed
    group by all
), visits as (
    select event_id, date_trunc('{unit}', first_view_at) as bucket, count(*) as visits_count, count(*) filter (where bounced) as bounced_visits_count
    from item_visits
    group by all
)
select
    event_id,
    timezone('UTC', bucket) as period_start,
    timezone('UTC', bucket + interval 1 {unit}) as period_end,
    views_count, unique_views_count, clicks_count, shares_count, favorites_count, ticket_clicks, external_url_clicks,
    coalesce(visits_count, 0) as visits_count,
    coalesce(bounced_visits_count, 0) as bounced_visits_count,
    time_on_page_total_ms, time_on_page_views,
    timezone('UTC', first_view_at) as first_view_at,
    timezone('UTC', last_view_at) as last_view_at
from counts left join visits using (event_id, bucket)
order by event_id, period_start
"""

SQL_BREAKDOWNS = """
select event_id, timezone('UTC', date_trunc('{unit}', occurred_at)) as period_start, '{dimension}' as dimension, {column} as key, count(*) as views
from timed
where event_type = 'view' and {column} is not null
group by all
"""


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    """30 000 raw sample rows over 5 days and 30 items, with bots and rejected rows."""
    items = generate_items(30, SEED, around=END)
    return generate_raw_events(30_000, DAYS, SEED, END, items)


@pytest.fixture(scope="module")
def raw(sample: pl.DataFrame) -> pl.DataFrame:
    """The sample in the RAW_EVENTS shape."""
    return sample_to_raw(sample)


@pytest.fixture(scope="module")
def classes(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """User-agent classes and the traffic source of each distinct (referrer, page_url) pair."""
    ua_classes = classify_user_agents(raw.get_column("user_agent"), load_bot_patterns())
    pairs = raw.select("referrer", "page_url").unique()
    sources = classify_traffic_sources(pairs, load_known_sources(), SITE_HOSTS)
    return ua_classes, sources


def window(tz: str) -> tuple[datetime, datetime]:
    """Local midnights of the first sample day and of the day after END: every sample row is inside."""
    zone = ZoneInfo(tz)
    return datetime(2026, 3, 26, tzinfo=zone).astimezone(UTC), datetime(2026, 4, 1, tzinfo=zone).astimezone(UTC)


def duckdb_periods(sample: pl.DataFrame, classes: tuple[pl.DataFrame, pl.DataFrame], tz: str) -> dict[str, pl.DataFrame]:
    """Hour and day rows and breakdowns computed by DuckDB in the session time zone `tz`."""
    ua_classes, sources = classes
    con = duckdb.connect()
    try:
        con.execute(f"set TimeZone = '{tz}'")
        con.register("sample", sample.to_arrow())
        con.register("ua_classes", ua_classes.to_arrow())
        con.register("sources", sources.to_arrow())
        con.execute(SQL_EVENTS.format(types=", ".join(f"'{kind}'" for kind in EVENT_TYPES)))
        out = {}
        for unit in ("hour", "day"):
            out[unit] = _utc(con.sql(SQL_PERIODS.format(unit=unit)).pl(), ["period_start", "period_end", "first_view_at", "last_view_at"])
            union = " union all ".join(SQL_BREAKDOWNS.format(unit=unit, dimension=d, column=c) for d, c in DIMENSIONS.items())
            out[f"{unit}_breakdowns"] = _utc(con.sql(union).pl(), ["period_start"]).sort("event_id", "period_start", "dimension", "key")
        return out
    finally:
        con.close()


def _utc(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Naive UTC timestamps from DuckDB's timezone('UTC', ...) as UTC-aware microsecond datetimes; counts as Int64."""
    return frame.with_columns(
        *[pl.col(c).cast(pl.Datetime("us")).dt.replace_time_zone("UTC") for c in columns],
        *[pl.col(c).cast(pl.Int64) for c in frame.columns if frame.schema[c].is_integer()],
    )


@pytest.fixture(scope="module", params=TIMEZONES, ids=TIMEZONES)
def both(request: pytest.FixtureRequest, sample: pl.DataFrame, raw: pl.DataFrame, classes: tuple[pl.DataFrame, pl.DataFrame]) -> dict:
    """The Polars path (compute_hours, roll_up_periods to days) and the DuckDB one, for one time zone."""
    tz = request.param
    start, end = window(tz)
    result = run_hours(raw, start, end, tz)
    days, day_breakdowns = roll_up_periods(result.hours, result.breakdowns, result.visitor_hours, "day", tz)
    return {
        "tz": tz,
        "raw_rows_with_timestamp": raw.get_column("occurred_at").drop_nulls().len(),
        "result": result,
        "polars": {"hour": result.hours, "hour_breakdowns": result.breakdowns, "day": days, "day_breakdowns": day_breakdowns},
        "duckdb": duckdb_periods(sample, classes, tz),
    }


def test_sample_exercises_bots_rejects_and_every_breakdown(both: dict, sample: pl.DataFrame) -> None:
    """The generated rows have unique ids (DuckDB's row key), bots, rejected rows, many items, every breakdown dimension."""
    assert sample.get_column("id").n_unique() == sample.height
    report = both["result"].report
    assert report["rows_read"] == both["raw_rows_with_timestamp"] > 29_900
    assert report["bot_rows"] > 100
    assert sum(report["rows_rejected"].values()) > 0
    assert both["polars"]["hour"].get_column("event_id").n_unique() >= 20
    assert set(both["duckdb"]["day_breakdowns"].get_column("dimension").unique()) == set(DIMENSIONS)


@pytest.mark.parametrize("unit", ["hour", "day"], ids=["hour", "day"])
def test_period_rows_match_duckdb(both: dict, unit: str) -> None:
    """Per (item, local hour/day): every count, exact uniques, visits, bounces, time on page and first/last view agree."""
    polars_rows = both["polars"][unit].select(COMPARED).sort("event_id", "period_start")
    duckdb_rows = both["duckdb"][unit].select(COMPARED).sort("event_id", "period_start")
    mismatched = polars_rows.join(duckdb_rows, on=["event_id", "period_start"], how="full", suffix="_sql").filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_sql")) for c in COMPARED if c not in ("event_id", "period_start"))
    )
    assert mismatched.is_empty(), mismatched
    assert polars_rows.height > 0
    assert polars_rows.equals(duckdb_rows)


def test_inner_window_with_full_context_matches_duckdb(both: dict, raw: pl.DataFrame) -> None:
    """compute_hours over three inner local days, the other rows as context, equals DuckDB's hours of those days."""
    zone = ZoneInfo(both["tz"])
    start, end = datetime(2026, 3, 27, tzinfo=zone).astimezone(UTC), datetime(2026, 3, 30, tzinfo=zone).astimezone(UTC)
    inner = run_hours(raw, start, end, both["tz"]).hours.select(COMPARED)
    expected = both["duckdb"]["hour"].filter(pl.col("period_start").is_between(start, end, closed="left")).select(COMPARED)
    assert inner.height > 0
    assert inner.equals(expected.sort("event_id", "period_start"))


@pytest.mark.parametrize("unit", ["hour", "day"], ids=["hour", "day"])
def test_breakdowns_match_duckdb(both: dict, unit: str) -> None:
    """traffic_sources, device_types, age_groups and genders per (item, local hour/day) agree."""
    columns = ["event_id", "period_start", "dimension", "key", "views"]
    polars_rows = both["polars"][f"{unit}_breakdowns"].select(columns)
    duckdb_rows = both["duckdb"][f"{unit}_breakdowns"].select(columns).cast({"views": BREAKDOWNS["views"]})
    assert polars_rows.equals(duckdb_rows)


def test_day_rows_follow_local_days(both: dict) -> None:
    """Every day row starts at a local midnight; in Paris the 29 March row lasts 23 hours."""
    zone = ZoneInfo(both["tz"])
    spans = {
        start.astimezone(zone): (end - start).total_seconds() / 3600
        for start, end in both["polars"]["day"].select("period_start", "period_end").unique().iter_rows()
    }
    assert all((local.hour, local.minute) == (0, 0) for local in spans)
    assert {local.date(): hours for local, hours in spans.items()}[date(2026, 3, 29)] == (23 if both["tz"] == "Europe/Paris" else 24)
