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


def attach_breakdown_json(rows: pl.DataFrame, breakdowns: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Add one JSON-object text column per dimension (keys sorted; '{}' where a row has none)."""
    names = list(JSON_COLUMNS.values())
    if breakdowns.is_empty():
        return rows.with_columns(pl.lit("{}").alias(name) for name in names)
    distinct_keys = breakdowns.get_column("key").unique().to_list()
    unstorable = [key for key in distinct_keys if not is_storable_key(key)]
    if unstorable:
        # The last guard before jsonb (measure_hours already cleans what it counts): a key jsonb
        # would refuse joins `other`, summed so that the object keeps one `other` key.
        breakdowns = (
            breakdowns.with_columns(pl.col("key").replace(unstorable, OTHER))
            .group_by(*keys, "dimension", "key", maintain_order=True)
            .agg(pl.col("views").sum())
        )
        distinct_keys = breakdowns.get_column("key").unique().to_list()
    quoted = pl.col("key").replace_strict(distinct_keys, [json.dumps(k, ensure_ascii=False) for k in distinct_keys], return_dtype=pl.String)
    objects = (
        breakdowns.sort("key")
        .group_by(*keys, "dimension", maintain_order=True)
        .agg(pl.format("{}:{}", quoted, pl.col("views")).str.join(",").alias("json"))
        .with_columns(pl.concat_str(pl.lit("{"), pl.col("json"), pl.lit("}")).alias("json"))
        .with_columns(pl.col("dimension").replace_strict(JSON_COLUMNS, return_dtype=pl.String))
        .pivot(on="dimension", index=keys, values="json", on_columns=names)
    )
    joined = rows.join(objects, on=keys, how="left")
    return joined.with_columns(pl.col(name).fill_null("{}") for name in names)
