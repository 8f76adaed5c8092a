"""One pl.Schema per frame shape that crosses a module boundary; loaders and tests share them."""

import polars as pl

UTC_TIME = pl.Datetime("us", "UTC")

# One raw tracking row as extracted (only the columns the metrics need).
RAW_EVENTS = pl.Schema(
    {
        "event_id": pl.String,
        "event_type": pl.String,
        "visitor_key": pl.String,  # coalesce(user_id::text, session_id)
        "referrer": pl.String,
        "user_agent": pl.String,
        "page_url": pl.String,
        "occurred_at": UTC_TIME,  # the raw "timestamp" column
        "time_on_page_seconds": pl.String,  # metadata->>'time_on_page_seconds', validated later
        "age_group": pl.String,  # metadata->>'age_group'
        "gender": pl.String,  # metadata->>'gender'
    }
)

# One row of event_analytics_events with every column, as the sample generator writes it and the
# Parquet archive keeps it: uuids and inet as text, metadata as JSON text.
RAW_TABLE_ROWS = pl.Schema(
    {
        "id": pl.String,
        "event_id": pl.String,
        "event_type": pl.String,
        "user_id": pl.String,
        "session_id": pl.String,
        "referrer": pl.String,
        "user_agent": pl.String,
        "ip_address": pl.String,
        "page_url": pl.String,
        "timestamp": UTC_TIME,
        "metadata": pl.String,
    }
)

EVENT_TYPES = ("view", "click", "share", "favorite", "external_click", "ticket_click")
