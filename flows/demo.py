"""`analytics demo`: schema, sample data, flows, and a short readable result."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from data.sample import generate_sample
from flows.database import mask_url, migrate, resolve_database
from flows.settings import load_settings
from flows.sql import load_sql
from flows.windows import day_window, local_hour_start

TOP_ITEMS_QUERY = """
select coalesce(e.title, s.event_id::text), s.total_views, s.total_unique_views, s.total_clicks,
       s.total_ticket_clicks, s.views_24h, s.bounce_rate, s.avg_time_on_page_seconds, s.peak_hour, s.peak_day
from event_analytics_summary s left join events e on e.id = s.event_id
order by s.total_views desc, s.event_id
limit 10
"""


def run_demo(rows: int, days: int, seed: int) -> int:
    """Run the whole product once on sample data and print the top items."""
    console = Console(width=max(Console().width, 112))
    started = time.perf_counter()
    settings = load_settings()
    db = resolve_database(settings)
    console.print(
        f"[bold]database[/bold] {mask_url(db.url)}"
        + ("" if settings.database_url else f"  (embedded, data in {settings.embedded_data_dir})")
    )
    now = datetime.now(UTC)
    end = local_hour_start(now, settings.timezone)
    with db.connect(autocommit=True) as conn:
        applied = migrate(conn)
        console.print(f"[bold]schema[/bold] {'applied ' + ', '.join(applied) if applied else 'up to date'}")
        existing = conn.execute("select count(*) from event_analytics_events").fetchone()[0]
    if existing:
        console.print(f"[bold]sample data[/bold] {existing:,} raw rows already there; reusing them")
    else:
        with db.connect() as conn, conn.transaction():
            written = generate_sample(conn, rows=rows, days=days, seed=seed, end=end)
        console.print(
            f"[bold]sample data[/bold] {written['raw_events']:,} raw rows over {days} days for {written['items']} items (seed {seed})"
        )

    from flows.runs import daily, hourly

    zone = settings.zone
    first_day = (end - timedelta(days=days)).astimezone(zone).date()
    last_day = end.astimezone(zone).date()
    days_to_run = [first_day + timedelta(days=n) for n in range((last_day - first_day).days)]
    with db.connect() as conn:
        computed = {row[0] for row in conn.execute(load_sql("read_computed_daily_windows"))}
    # A day whose daily run completed already holds its figures: the demo's own sample data does not
    # change between runs, so recomputing it would only cost time. A backfill recomputes on demand.
    pending = [day for day in days_to_run if day_window(day, settings.timezone).start not in computed]
    reused = len(days_to_run) - len(pending)
    if reused:
        console.print(
            f"[bold]figures[/bold] {reused} of {len(days_to_run)} past days were computed by an earlier run; reusing them "
            f"(recompute with `analytics backfill --start {first_day} --end {last_day}`)"
        )
    with console.status("running the daily flow for each past day") as status:
        for day in pending:
            status.update(f"daily flow for {day}")
            midnight_after = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
            daily(as_of=midnight_after.astimezone(UTC) + timedelta(minutes=5))
        status.update("hourly flow for the current day so far")
        today_start = datetime.combine(last_day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        hours_today = int((end - today_start).total_seconds() // 3600)
        figures = hourly(as_of=now, lookback_hours=max(hours_today - 1, 0))
    rejected = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in figures["rows_rejected"].items() if n) or "none"
    console.print(
        f"[bold]flows[/bold] daily × {len(pending)}, hourly × 1 (last window: {figures['rows_read']:,} rows read, {rejected} rejected, {figures['bot_rows']:,} bot rows left out)"
    )

    with db.connect() as conn:
        top = conn.execute(TOP_ITEMS_QUERY).fetchall()
        totals = conn.execute("select count(*), sum(total_views), sum(total_unique_views) from event_analytics_summary").fetchone()
        periods = conn.execute("select period_type, count(*) from event_analytics group by 1 order by 1").fetchall()
    table = Table(title="Top items by views (event_analytics_summary)")
    for name in ("item", "views", "unique", "clicks", "tickets", "24 h", "bounce", "on page", "peak"):
        table.add_column(
            name,
            justify="left" if name in ("item", "peak") else "right",
            no_wrap=True,
            min_width=len(name),
            max_width=30 if name == "item" else None,
        )
    for title, views, unique, clicks, tickets, day_views, bounce, on_page, peak_hour, peak_day in top:
        table.add_row(
            title,
            f"{views:,}",
            f"{unique:,}",
            f"{clicks:,}",
            f"{tickets:,}",
            f"{day_views:,}",
            "" if bounce is None else f"{float(bounce):.0%}",
            "" if on_page is None else f"{float(on_page):.0f} s",
            "" if peak_hour is None else f"{peak_day[:3]} {peak_hour:02d}h",
        )
    console.print(table)
    console.print(
        f"{totals[0]} items, {totals[1]:,} views, {totals[2]:,} unique views; rows in event_analytics: "
        + ", ".join(f"{t} {n:,}" for t, n in periods)
    )
    console.print(
        f"done in {time.perf_counter() - started:.0f} s. Query the results: psql \"{mask_url(db.url)}\" -c 'select * from event_analytics_summary limit 5'"
    )
    return 0
