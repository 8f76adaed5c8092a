"""The hourly and daily flows end to end: real PostgreSQL, real Prefect, generated data."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import psycopg
import pytest

from data.reference import load_bot_patterns
from data.sample import generate_sample
from flows.runs import daily, hourly
from transforms.devices import classify_user_agents

END = datetime(2026, 10, 27, 0, 0, tzinfo=UTC)  # three days around the 25-hour 2026-10-25 in Paris
DAYS = 3
ZONE = "Europe/Paris"
COUNT_COLUMNS = [
    "views_count",
    "unique_views_count",
    "clicks_count",
    "shares_count",
    "favorites_count",
    "ticket_clicks",
    "external_url_clicks",
]

INDEPENDENT_COUNTS = """
select event_id::text as event_id,
       date_trunc(%(unit)s, "timestamp", %(zone)s) as period_start,
       count(*) filter (where event_type = 'view') as views_count,
       count(distinct coalesce(user_id::text, session_id)) filter (where event_type = 'view') as unique_views_count,
       count(*) filter (where event_type = 'click') as clicks_count,
       count(*) filter (where event_type = 'share') as shares_count,
       count(*) filter (where event_type = 'favorite') as favorites_count,
       count(*) filter (where event_type = 'ticket_click') as ticket_clicks,
       count(*) filter (where event_type = 'external_click') as external_url_clicks
from event_analytics_events
where event_id is not null and "timestamp" is not null
  and event_type in ('view', 'click', 'share', 'favorite', 'external_click', 'ticket_click')
  and not (coalesce(user_agent, '') = any(%(bots)s))
group by 1, 2
"""


def fetch_frame(conn: psycopg.Connection, query: str, params: dict | None = None) -> pl.DataFrame:
    cursor = conn.execute(query, params)
    names = [column.name for column in cursor.description]
    rows = [tuple(str(v) if isinstance(v, (uuid.UUID, dict)) else v for v in row) for row in cursor.fetchall()]
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def run_days(first: datetime, last: datetime, zone: str) -> list[dict]:
    """The daily flow for every local day from first to last (as the scheduler would, just after midnight)."""
    from zoneinfo import ZoneInfo

    figures = []
    day = first.astimezone(ZoneInfo(zone)).date()
    while day <= last.astimezone(ZoneInfo(zone)).date():
        after_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(zone)) + timedelta(minutes=5)
        figures.append(daily(as_of=after_midnight.astimezone(UTC)))
        day += timedelta(days=1)
    return figures


@pytest.fixture
def loaded_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=20_000, days=DAYS, seed=7, end=END, items=40)
    return database_url


def bot_user_agents(conn: psycopg.Connection) -> list[str]:
    agents = pl.Series(
        [row[0] for row in conn.execute("select distinct user_agent from event_analytics_events where user_agent is not null")],
        dtype=pl.String,
    )
    classes = classify_user_agents(agents, load_bot_patterns())
    return classes.filter(pl.col("is_bot")).get_column("user_agent").to_list()


def stored_periods(conn: psycopg.Connection, period_type: str) -> pl.DataFrame:
    return fetch_frame(
        conn,
        f"select event_id::text as event_id, period_start, {', '.join(COUNT_COLUMNS)} from event_analytics where period_type = %(t)s",
        {"t": period_type},
    )


@pytest.mark.usefixtures("prefect_server")
def test_counts_and_uniques_match_an_independent_group_by(loaded_database: str) -> None:
    run_days(END - timedelta(days=DAYS), END, ZONE)
    with psycopg.connect(loaded_database) as conn:
        bots = bot_user_agents(conn)
        assert bots, "the sample must contain bot rows for this test to mean anything"
        for unit in ("hour", "day"):
            expected = fetch_frame(conn, INDEPENDENT_COUNTS, {"unit": unit, "zone": ZONE, "bots": bots}).sort("event_id", "period_start")
            actual = stored_periods(conn, unit).sort("event_id", "period_start")
            assert actual.height == expected.height > 0, unit
            assert actual.select(COUNT_COLUMNS).to_dicts() == expected.select(COUNT_COLUMNS).to_dicts(), unit
            assert actual["period_start"].to_list() == expected["period_start"].to_list(), unit
        # The 25-hour day: 25 distinct local hours exist on 2026-10-25 in Paris.
        hours_on_long_day = conn.execute(
            "select count(distinct period_start) from event_analytics where period_type = 'hour' "
            "and period_start >= '2026-10-24 22:00+00' and period_start < '2026-10-25 23:00+00'"
        ).fetchone()[0]
        assert hours_on_long_day == 25
        day_ends = conn.execute(
            "select distinct period_end - period_start from event_analytics where period_type = 'day' and period_start = '2026-10-24 22:00+00'"
        ).fetchall()
        assert day_ends == [(timedelta(hours=25),)]


@pytest.mark.usefixtures("prefect_server")
def test_all_time_and_summary_equal_the_sum_of_days(loaded_database: str) -> None:
    run_days(END - timedelta(days=DAYS), END, ZONE)
    with psycopg.connect(loaded_database) as conn:
        mismatches = conn.execute(
            """
            with days as (
                select event_id, sum(views_count) v, sum(clicks_count) c, sum(shares_count) s, sum(favorites_count) f,
                       sum(ticket_clicks) t, sum(external_url_clicks) x, sum(visits_count) vi
                from event_analytics where period_type = 'day' group by event_id
            )
            select count(*) from days d
            full join (select * from event_analytics where period_type = 'all_time') a on a.event_id = d.event_id
            where (d.v, d.c, d.s, d.f, d.t, d.x, d.vi) is distinct from
                  (a.views_count::numeric, a.clicks_count::numeric, a.shares_count::numeric, a.favorites_count::numeric,
                   a.ticket_clicks::numeric, a.external_url_clicks::numeric, a.visits_count::numeric)
            """
        ).fetchone()[0]
        assert mismatches == 0
        unique_mismatches = conn.execute(
            """
            select count(*) from event_analytics a
            join (select event_id, count(distinct coalesce(user_id::text, session_id)) u from event_analytics_events
                  where event_type = 'view' and "timestamp" is not null and not (coalesce(user_agent, '') = any(%s))
                  group by event_id) r on r.event_id = a.event_id
            where a.period_type = 'all_time' and a.unique_views_count <> r.u
            """,
            (bot_user_agents(conn),),
        ).fetchone()[0]
        assert unique_mismatches == 0
        summary_mismatches = conn.execute(
            """
            select count(*) from (select * from event_analytics where period_type = 'all_time') a
            full join event_analytics_summary s on s.event_id = a.event_id
            where (a.views_count, a.unique_views_count, a.clicks_count, a.shares_count, a.favorites_count, a.ticket_clicks, a.external_url_clicks)
                  is distinct from (s.total_views, s.total_unique_views, s.total_clicks, s.total_shares, s.total_favorites,
                                    s.total_ticket_clicks, s.total_external_clicks)
            """
        ).fetchone()[0]
        assert summary_mismatches == 0
        assert conn.execute("select count(*) from event_analytics_summary").fetchone()[0] > 0
        # The daily flow refreshed the plan's top-events view: approved items by all-time views.
        top = conn.execute(
            "select event_id, total_views from event_analytics_top_events order by total_views desc nulls last, event_id"
        ).fetchall()
        expected = conn.execute(
            "select e.id, s.total_views from events e left join event_analytics_summary s on s.event_id = e.id "
            "where e.status = 'approved' order by s.total_views desc nulls last, e.id limit 100"
        ).fetchall()
        assert top == expected and top[0][1] > 0


@pytest.mark.usefixtures("prefect_server")
def test_rerunning_rewrites_nothing_but_updated_at(loaded_database: str) -> None:
    def snapshot() -> dict[str, object]:
        with psycopg.connect(loaded_database) as conn:
            return {
                **{
                    t: fetch_frame(conn, f"select * from {t} order by 1").drop("updated_at")
                    for t in ("event_analytics", "event_analytics_summary")
                },
                "visitors": conn.execute("select count(*), sum(hours_count) from event_analytics_visitors").fetchone(),
                "visitor_hours": conn.execute("select count(*) from event_analytics_visitor_hours").fetchone(),
            }

    run_days(END - timedelta(days=DAYS), END, ZONE)
    first = snapshot()
    run_days(END - timedelta(days=DAYS), END, ZONE)
    second = snapshot()
    for name, value in first.items():
        assert second[name].equals(value) if isinstance(value, pl.DataFrame) else second[name] == value, name
    # An hourly run over hours the daily runs already computed changes no period row either.
    hourly(as_of=END + timedelta(minutes=10), lookback_hours=5)
    third = snapshot()
    assert third["event_analytics"].equals(first["event_analytics"])
    assert third["visitors"] == first["visitors"]


@pytest.mark.usefixtures("prefect_server")
def test_bad_rows_are_skipped_counted_and_kept(loaded_database: str) -> None:
    with psycopg.connect(loaded_database) as conn:
        raw_before = conn.execute("select count(*) from event_analytics_events").fetchone()[0]
        conn.execute(
            'insert into event_analytics_events (event_id, event_type, session_id, "timestamp") values '
            "(null, 'view', 's-bad-1', '2026-10-26 10:15+00'), "
            "((select id from events limit 1), 'hover', 's-bad-2', '2026-10-26 10:20+00'), "
            "((select id from events limit 1), 'view', 's-bad-3', null)"
        )
    figures = hourly(as_of=datetime(2026, 10, 26, 11, 5, tzinfo=UTC), lookback_hours=0)
    assert figures["rows_rejected"]["missing_item"] >= 1
    assert figures["rows_rejected"]["unknown_type"] >= 1
    assert figures["rows_without_timestamp_in_table"] >= 1
    with psycopg.connect(loaded_database) as conn:
        assert conn.execute("select count(*) from event_analytics_events").fetchone()[0] == raw_before + 3
        counted = conn.execute(
            "select count(*) from event_analytics_events where event_type = 'view' and event_id is not null "
            "and \"timestamp\" >= '2026-10-26 10:00+00' and \"timestamp\" < '2026-10-26 11:00+00' and not (coalesce(user_agent, '') = any(%s))",
            (bot_user_agents(conn),),
        ).fetchone()[0]
        stored = conn.execute(
            "select coalesce(sum(views_count), 0) from event_analytics where period_type = 'hour' and period_start = '2026-10-26 10:00+00'"
        ).fetchone()[0]
        assert stored == counted


@pytest.mark.usefixtures("prefect_server")
def test_a_run_is_named_after_its_window_and_publishes_its_report(loaded_database: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state = hourly(as_of=datetime(2026, 10, 26, 11, 5, tzinfo=UTC), lookback_hours=1, return_state=True)
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    assert flow_run.name == "hourly 2026-10-26 10:00 → 12:00 Europe/Paris"  # the last closed local hour and one before
    by_type = {artifact.type: artifact for artifact in artifacts}
    report = by_type["markdown"].data
    assert "**Window** 2026-10-26 10:00 → 12:00 Europe/Paris" in report
    for label in ("read in the window", "rejected: unknown type", "bots left out", "| hour |", "| all_time |", "| extract |"):
        assert label in report, label
    table = by_type["table"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert 0 < len(rows) <= 10
    views = [int(row["views"].replace(",", "")) for row in rows]
    assert views == sorted(views, reverse=True)
    with psycopg.connect(loaded_database) as conn:
        recorded = conn.execute("select flow_name, report -> 'rows_read' from event_analytics_runs").fetchall()
    assert recorded == [("hourly", state.result()["rows_read"])]
