"""Breakdown rows to JSON object text: exactly the objects a plain Python build gives, for any keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.breakdowns import JSON_COLUMNS, attach_breakdown_json
from transforms.text import OTHER, is_storable_key

T0 = datetime(2026, 10, 1, tzinfo=UTC)
ITEMS = ("00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b")
KEYS = ["event_id", "period_type", "period_start"]
# Keys that break naive JSON or splitting: quotes, backslashes, the separators, braces, control
# characters, NUL (not storable: becomes `other`), non-ASCII, an `other` of their own, too long.
HOSTILE_KEYS = ['"', "\\", ",", "}", "{", ":", "a,b", '}{"x":1', "\n", "\x01", "\x00", "é", "日本", "🎫", OTHER, "x" * 300, "", " "]


def expected_objects(rows: list[tuple], breakdowns: list[tuple]) -> dict[str, list[str]]:
    """One object per row and dimension, built in plain Python: unstorable keys summed into `other`,
    keys sorted by their UTF-8 bytes, '{}' where a row has none."""
    sums: dict[tuple, dict[str, int]] = {}
    for *key, dimension, name, views in breakdowns:
        name = name if is_storable_key(name) else OTHER
        bucket = sums.setdefault((*key, dimension), {})
        bucket[name] = bucket.get(name, 0) + views
    out: dict[str, list[str]] = {column: [] for column in JSON_COLUMNS.values()}
    for key in rows:
        for dimension, column in JSON_COLUMNS.items():
            pairs = sorted(sums.get((*key, dimension), {}).items(), key=lambda pair: pair[0].encode())
            out[column].append("{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in pairs) + "}")
    return out


breakdown_rows = st.lists(
    st.tuples(
        st.sampled_from(ITEMS),
        st.integers(0, 5),
        st.sampled_from(list(JSON_COLUMNS)),
        st.one_of(st.sampled_from(HOSTILE_KEYS), st.text(max_size=6)),
        st.integers(1, 10**6),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(breakdown_rows, st.sets(st.tuples(st.sampled_from(ITEMS), st.integers(0, 5)), max_size=12))
def test_objects_equal_a_plain_build(raw: list[tuple], row_keys: set[tuple]) -> None:
    # Distinct (row, dimension, key) as measure_hours gives them; rows without breakdowns, and
    # breakdowns of no row (left out), included.
    seen: dict[tuple, tuple] = {}
    for item, hour, dimension, name, views in raw:
        seen.setdefault((item, hour, dimension, name), (item, "hour", T0 + timedelta(hours=hour), dimension, name, views))
    breakdowns = list(seen.values())
    rows = [(item, "hour", T0 + timedelta(hours=hour)) for item, hour in sorted(row_keys)]
    rows_frame = pl.DataFrame(
        rows, schema={"event_id": pl.String, "period_type": pl.String, "period_start": pl.Datetime("us", "UTC")}, orient="row"
    )
    breakdown_frame = pl.DataFrame(
        breakdowns,
        schema={
            "event_id": pl.String,
            "period_type": pl.String,
            "period_start": pl.Datetime("us", "UTC"),
            "dimension": pl.String,
            "key": pl.String,
            "views": pl.Int64,
        },
        orient="row",
    )

    attached = attach_breakdown_json(rows_frame, breakdown_frame, KEYS)

    assert attached.select(KEYS).rows() == rows
    assert {column: attached[column].to_list() for column in JSON_COLUMNS.values()} == expected_objects(rows, breakdowns)
    for column in JSON_COLUMNS.values():
        for text in attached[column]:
            assert "\\u0000" not in text and "\x00" not in text
            json.loads(text)


def test_a_summary_row_keyed_by_item_alone() -> None:
    rows = pl.DataFrame({"event_id": list(ITEMS)})
    breakdowns = pl.DataFrame(
        {
            "event_id": [ITEMS[0], ITEMS[0], ITEMS[0]],
            "dimension": ["traffic_sources", "traffic_sources", "device_types"],
            "key": ["google", "direct", "mobile"],
            "views": [3, 2, 5],
        }
    )
    attached = attach_breakdown_json(rows, breakdowns, ["event_id"])
    assert attached["traffic_sources"].to_list() == ['{"direct":2,"google":3}', "{}"]
    assert attached["device_types"].to_list() == ['{"mobile":5}', "{}"]
    assert attached["genders"].to_list() == ["{}", "{}"]


def test_a_pair_without_key_or_count_is_left_out() -> None:
    """Only a hand-edited stored object holds one (`{"a": null}`); the other pairs keep their object."""
    rows = pl.DataFrame({"event_id": list(ITEMS)})
    breakdowns = pl.DataFrame(
        {
            "event_id": [ITEMS[0], ITEMS[0], ITEMS[0], ITEMS[1]],
            "dimension": ["traffic_sources"] * 4,
            "key": ["a", None, "c", "d"],
            "views": [1, 2, None, None],
        },
        schema={"event_id": pl.String, "dimension": pl.String, "key": pl.String, "views": pl.Int64},
    )
    attached = attach_breakdown_json(rows, breakdowns, ["event_id"])
    assert attached["traffic_sources"].to_list() == ['{"a":1}', "{}"]
