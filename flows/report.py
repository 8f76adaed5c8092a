"""Run reports: a markdown artifact and a top-items table in the Prefect UI, and a row in event_analytics_runs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.database import Database
from flows.sql import load_sql
from flows.windows import Window
from transforms.validation import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

PERIOD_ORDER = ("hour", "day", "week", "month", "all_time", "summary")
# Longer titles are cut, so that the table fits the artifact page.
ITEM_WIDTH = 40


def describe_counts(counts: dict[str, int], empty: str = "none") -> str:
    """`missing item 10, unknown type 2`: the non-zero counts, as words."""
    return ", ".join(f"{name.replace('_', ' ')} {n:,}" for name, n in counts.items() if n) or empty


def _window_label(figures: dict[str, Any], timezone_name: str) -> str:
    window = Window(datetime.fromisoformat(figures["window_start"]), datetime.fromisoformat(figures["window_end"]), timezone_name)
    return window.label("range")


def format_top_items(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The top-items table as a person reads it: eight short columns that fit a page."""
    table = []
    for row in rows:
        item = str(row["item"])
        bounce, on_page = row.get("bounce_rate"), row.get("avg_time_on_page_seconds")
        table.append(
            {
                "item": item if len(item) <= ITEM_WIDTH else item[: ITEM_WIDTH - 1] + "…",
                "views": f"{row['total_views']:,}",
                "unique": f"{row['total_unique_views']:,}",
                "clicks": f"{row['total_clicks']:,}",
                "tickets": f"{row['total_ticket_clicks']:,}",
                "24 h": f"{row['views_24h']:,}",
                "bounce": "" if bounce is None else f"{bounce:.0%}",
                "on page": "" if on_page is None else f"{on_page:.0f} s",
            }
        )
    return table


def format_run_report(title: str, figures: dict[str, Any], timezone_name: str = "UTC") -> str:
    """The run's figures as markdown a data engineer can read at a glance."""
    rejected = figures.get("rows_rejected", {})
    written = figures.get("rows_written", {})
    deleted = figures.get("rows_deleted", {})
    seconds = figures.get("seconds", {})
    lines = [
        f"# {title}",
        "",
        f"**Window** {_window_label(figures, timezone_name)} (end exclusive)",
        "",
        "| rows | count |",
        "|---|---:|",
        f"| read in the window | {figures.get('rows_read', 0):,} |",
        *[f"| rejected: {reason.replace('_', ' ')} | {n:,} |" for reason, n in rejected.items()],
        f"| bots left out | {figures.get('bot_rows', 0):,} |",
        f"| counted | {figures.get('rows_counted', 0):,} |",
        f"| without a timestamp in the whole table (never in any window, kept) | {figures.get('rows_without_timestamp_in_table', 0):,} |",
        f"| dated outside {EARLIEST_TIMESTAMP:%Y}–{LATEST_TIMESTAMP:%Y} in the whole table (never in any window, kept) | {figures.get('rows_out_of_range_in_table', 0):,} |",
        "",
        f"**Items touched** {figures.get('items_touched', 0):,}",
        "",
        "| period type | rows written | rows deleted |",
        "|---|---:|---:|",
        *[
            f"| {period} | {written.get(period, 0):,} | {deleted.get(period, 0):,} |"
            for period in PERIOD_ORDER
            if period in written or period in deleted
        ],
        "",
        "Rows written counts rows whose figures changed; a rerun over unchanged data writes none.",
        "",
        "| stage | seconds |",
        "|---|---:|",
        *[f"| {stage} | {value:.2f} |" for stage, value in seconds.items()],
    ]
    if "late_rows" in figures:
        lines += [
            "",
            f"**Late rows** {figures['late_rows']:,} committed since the last run, in {figures['late_hours_found']:,} local hours outside "
            f"its window; **hours recomputed** {figures['late_hours_recomputed']:,}"
            + (f"; **left for the next run** {figures['late_hours_left']:,}" if figures["late_hours_left"] else ""),
            *[f"- {w['window']}: {w['rows_read']:,} rows read, {w['items_touched']:,} items" for w in figures["late_windows"]],
        ]
    return "\n".join(lines) + "\n"


@task(retries=2, retry_delay_seconds=[5, 30], timeout_seconds=120, cache_policy=NO_CACHE)
def publish_run_report(db: Database, flow_name: str, title: str, figures: dict[str, Any], items: list[str], started_at: datetime) -> None:
    """Publish the run's figures as Prefect artifacts and record them in event_analytics_runs."""
    create_markdown_artifact(
        markdown=format_run_report(title, figures, db.settings.timezone), key=f"{flow_name}-run-report", description=title
    )
    with db.connect() as conn:
        top = []
        if items:
            cursor = conn.execute(load_sql("read_top_items"), {"items": items, "limit": 10})
            names = [column.name for column in cursor.description]
            top = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        with conn.transaction():
            conn.execute(
                load_sql("insert_run_report"),
                {
                    "flow_name": flow_name,
                    "window_start": figures.get("window_start"),
                    "window_end": figures.get("window_end"),
                    "started_at": started_at,
                    "report": json.dumps(figures),
                },
            )
    if top:
        create_table_artifact(
            table=format_top_items(top), key=f"{flow_name}-top-items", description=f"{title}: top items touched, by all-time views"
        )
