"""Tiny RAW_EVENTS frames for metric tests, and a one-call compute_hours with the shipped reference data."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from data.reference import load_bot_patterns, load_known_sources
from transforms.pipeline import HourResult, MetricConfig, compute_hours
from transforms.schemas import RAW_EVENTS

ITEM = "00000000-0000-4000-8000-000000000001"
ITEM_2 = "00000000-0000-4000-8000-000000000002"
ITEM_3 = "00000000-0000-4000-8000-000000000003"
DESKTOP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
MOBILE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
TABLET_UA = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGE_URL = "https://www.example-events.com/events/x"
SITE_HOSTS = ("example-events.com",)
T0 = datetime(2026, 5, 12, 10, 0, tzinfo=UTC)

DEFAULTS: dict[str, object] = {
    "event_id": ITEM,
    "event_type": "view",
    "visitor_key": "v1",
    "referrer": None,
    "user_agent": DESKTOP_UA,
    "page_url": PAGE_URL,
    "occurred_at": T0,
    "time_on_page_seconds": None,
    "age_group": None,
    "gender": None,
}


def make_raw_events(rows: list[dict] | None = None, **defaults: object) -> pl.DataFrame:
    """A RAW_EVENTS frame: each row is DEFAULTS, overridden by keyword defaults, overridden by the row."""
    unknown = set(defaults) - set(RAW_EVENTS.names())
    if unknown:
        raise ValueError(f"not RAW_EVENTS columns: {sorted(unknown)}")
    base = {**DEFAULTS, **defaults}
    records = []
    for row in rows if rows is not None else [{}]:
        extra = set(row) - set(RAW_EVENTS.names())
        if extra:
            raise ValueError(f"not RAW_EVENTS columns: {sorted(extra)}")
        records.append({**base, **row})
    return pl.DataFrame(records, schema=RAW_EVENTS, orient="row") if records else pl.DataFrame(schema=RAW_EVENTS)


def metric_config(tz: str = "UTC", **config: object) -> MetricConfig:
    """MetricConfig with the shipped bot patterns and known sources, and the sample site's host."""
    values: dict[str, object] = {
        "timezone": tz,
        "bot_patterns": load_bot_patterns(),
        "known_sources": load_known_sources(),
        "site_hosts": SITE_HOSTS,
    }
    values.update(config)
    return MetricConfig(**values)


def run_hours(raw: pl.DataFrame, start: datetime, end: datetime, tz: str = "UTC", **config: object) -> HourResult:
    """compute_hours over [start, end) in `tz` with the shipped reference data."""
    return compute_hours(raw, start, end, metric_config(tz, **config))


def sample_to_raw(sample: pl.DataFrame) -> pl.DataFrame:
    """data.sample raw rows (timestamp, metadata JSON, user_id, session_id) in the RAW_EVENTS shape."""
    metadata = pl.col("metadata")
    return sample.select(
        "event_id",
        "event_type",
        pl.coalesce(pl.col("user_id").cast(pl.String), "session_id").alias("visitor_key"),
        "referrer",
        "user_agent",
        "page_url",
        pl.col("timestamp").alias("occurred_at"),
        metadata.str.json_path_match("$.time_on_page_seconds").alias("time_on_page_seconds"),
        metadata.str.json_path_match("$.age_group").alias("age_group"),
        metadata.str.json_path_match("$.gender").alias("gender"),
    ).cast(RAW_EVENTS)
