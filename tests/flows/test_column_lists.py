"""Every copy of the period-metric and summary column lists agrees: the Polars schemas, the staging
DDL, the three lists of each upsert and the tables the migrations create; and every statement that
unfolds the breakdown objects names the dimensions and columns the Python side does."""

from __future__ import annotations

import re

import psycopg
import pytest

from flows.sql import load_sql
from transforms.breakdowns import JSON_COLUMNS
from transforms.schemas import RAW_EVENTS
from transforms.stored import STORED_PERIOD_COLUMNS
from transforms.summary import SUMMARY

SUMMARY_COLUMNS = [*SUMMARY.names(), "traffic_sources", "device_types"]
UPSERTS = {
    "upsert_period_rows": ("event_analytics", "stage_periods", STORED_PERIOD_COLUMNS, ["event_id", "period_type", "period_start"]),
    "upsert_summaries": ("event_analytics_summary", "stage_summary", SUMMARY_COLUMNS, ["event_id"]),
}


def names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


# Written from the session's setting (flows/database.py `connect`), not staged.
WRITTEN_FROM_SESSION = ["definitions_version"]
SESSION_VALUE = "current_setting('analytics.definitions_version', true)"


def upsert_lists(sql: str, target: str, stage: str) -> dict[str, list[str]]:
    """The column lists one upsert statement spells out (the session's value read as its column)."""
    sql = re.sub(r"--[^\n]*", "", sql).replace(SESSION_VALUE, "definitions_version")
    inserted = re.search(rf"insert into {target} as \w+ \((.*?)\)\s*select", sql, re.S)
    selected = re.search(rf"select(.*?)from {stage}", sql, re.S)
    updated = re.findall(r"(\w+) = excluded\.(\w+)", sql)
    assert inserted and selected, f"cannot read the column lists of the upsert into {target}"
    assert all(left == right for left, right in updated), f"a column is set from another one: {updated}"
    lists = {"insert": names(inserted.group(1)), "select": names(selected.group(1)), "update": [left for left, _ in updated]}
    unchanged = re.search(r"where \((.*?)\) is distinct from \((.*?)\)", sql, re.S)
    if unchanged:
        lists["compare stored"] = [n.removeprefix("a.") for n in names(unchanged.group(1))]
        lists["compare new"] = [n.removeprefix("excluded.") for n in names(unchanged.group(2))]
    return lists


@pytest.mark.parametrize("statement", UPSERTS, ids=list(UPSERTS))
def test_upsert_lists_match_the_staged_columns(statement: str) -> None:
    target, stage, columns, keys = UPSERTS[statement]
    lists = upsert_lists(load_sql(statement), target, stage)
    written = [*columns, *WRITTEN_FROM_SESSION]
    assert lists["insert"] == written
    assert lists["select"] == written
    assert lists["update"] == [c for c in written if c not in keys]
    for side in ("compare stored", "compare new"):
        if side in lists:
            assert lists[side] == [c for c in written if c not in keys and c != "as_of"], side


def test_staging_tables_and_target_tables_have_every_column(database_url: str) -> None:
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute(load_sql("create_staging_tables"))
        for target, stage, columns, _ in UPSERTS.values():
            staged = [
                row[0]
                for row in conn.execute(
                    "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
                    (stage,),
                )
            ]
            assert staged == columns, stage
            stored = {row[0] for row in conn.execute("select column_name from information_schema.columns where table_name = %s", (target,))}
            written = {*columns, *WRITTEN_FROM_SESSION}
            assert written <= stored, f"{target} lacks {sorted(written - stored)}"


# The statements that unfold a period row's breakdown objects into the (dimension, key, views) rows
# the Python side reads (check_breakdown_sums unfolds them too, but names dimensions by column).
UNFOLDING = ["read_period_breakdowns", "sum_item_breakdowns", "sum_period_breakdowns"]


@pytest.mark.parametrize("statement", UNFOLDING)
def test_breakdown_dimensions_in_sql_match_the_json_columns(statement: str) -> None:
    # Each statement names every dimension with its column, as transforms/breakdowns.JSON_COLUMNS
    # does: a dimension missing here would vanish from roll-ups and all-time deltas without error.
    pairs = re.findall(r"\('(\w+)', a\.(\w+)\)", load_sql(statement))
    assert dict(pairs) == JSON_COLUMNS, statement
    assert len(pairs) == len(JSON_COLUMNS), f"{statement} names a dimension twice"


def select_list(sql: str) -> list[str]:
    """The expressions selected from event_analytics_events, comments dropped."""
    head = re.sub(r"--[^\n]*", "", sql).split("from event_analytics_events")[0]
    body = head[head.rindex("select") + len("select") :]
    return [" ".join(part.split()) for part in body.split(",\n")]


def test_the_raw_reads_select_the_same_columns() -> None:
    # The three reads of raw rows feed the same frame (transforms/schemas.RAW_EVENTS): the same
    # expressions in the same order, the id first where the archive needs it.
    plain = select_list(load_sql("extract_raw_events"))
    assert [expression.rsplit(" as ", 1)[-1] for expression in plain] == RAW_EVENTS.names()
    assert select_list(load_sql("extract_visitor_events")) == plain
    assert select_list(load_sql("extract_raw_events_with_ids")) == ["id::text as id", *plain]
