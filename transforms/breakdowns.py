"""Breakdown rows (long) to the JSON object columns of event_analytics and the summary."""

from __future__ import annotations

import json

import polars as pl

from transforms.text import OTHER, is_storable_key

JSON_COLUMNS = {
    "traffic_sources": "traffic_sources",
    "device_types": "device_types",
    "age_groups": "age_groups",
    "genders": "genders",
    "hour_of_day": "views_by_hour_of_day",
    "weekday": "views_by_weekday",
}
# Written after each object while they are built (attach_breakdown_json); no JSON text holds one.
OBJECT_END = "\x00"


def attach_breakdown_json(rows: pl.DataFrame, breakdowns: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add one JSON-object text column per dimension (keys sorted; '{}' where a row has none)."""
    names = list(JSON_COLUMNS.values())
    # Each breakdown row is tied to its row's position, and the pairs of one (row, dimension),
    # consecutive once sorted, become one object without a group-by: every pair is written with
    # the brace or comma around it, the whole column joined into one string and split again at
    # a NUL written after each object (json.dumps escapes a NUL in a key). Then each dimension's
    # objects are put in place by position. About a third of the time of a group-by joining the pairs
    # (0.13 s against 0.35 s for a 200,000-row chunk's hours, one thread; bench/README.md).
    # A pair with no key or count (only a hand-edited stored object has one: `{"a": null}`) is left
    # out; every piece built below is then text.
    placed = (
        breakdowns.filter(pl.col("key").is_not_null() & pl.col("views").is_not_null())
        .join(rows.select(keys).with_row_index("row"), on=keys, how="inner")
        .select("row", "dimension", "key", "views")
    )
    if placed.is_empty():
        return rows.with_columns(pl.lit("{}").alias(name) for name in names)
    distinct_keys = placed.get_column("key").unique().to_list()
    unstorable = [key for key in distinct_keys if not is_storable_key(key)]
    if unstorable:
        # The last guard before jsonb (measure_hours already cleans what it counts): a key jsonb
        # would refuse joins `other`, summed so that the object keeps one `other` key.
        placed = (
            placed.with_columns(pl.col("key").replace(unstorable, OTHER)).group_by("row", "dimension", "key").agg(pl.col("views").sum())
        )
        distinct_keys = placed.get_column("key").unique().to_list()
    quoted = pl.col("key").replace_strict(
        distinct_keys, [json.dumps(k, ensure_ascii=False) + ":" for k in distinct_keys], return_dtype=pl.String
    )
    placed = placed.sort("row", "dimension", "key")
    group = pl.struct("row", "dimension").rle_id()
    first = (group != group.shift(1)).fill_null(True)
    last = (group != group.shift(-1)).fill_null(True)
    pieces = placed.select(
        "row",
        "dimension",
        first.alias("first"),
        pl.concat_str(
            pl.when(first).then(pl.lit("{")).otherwise(pl.lit("")),
            quoted,
            pl.col("views").cast(pl.String),
            pl.when(last).then(pl.lit("}" + OBJECT_END)).otherwise(pl.lit(",")),
        ).alias("piece"),
    )
    objects = pieces.get_column("piece").str.join("").str.split(OBJECT_END).explode().head(-1)
    heads = pieces.filter(pl.col("first")).select("row", "dimension").with_columns(objects.alias("json"))
    empty = pl.Series([], dtype=pl.String).extend_constant("{}", rows.height)
    columns = []
    for dimension, name in JSON_COLUMNS.items():
        own = heads.filter(pl.col("dimension") == dimension)
        columns.append(empty.clone().scatter(own.get_column("row"), own.get_column("json")).alias(name))
    return rows.with_columns(columns)
