"""The `analytics` command: demo, database, sample data and flow runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import NoReturn

# Prefect's ephemeral API server needs more than its default 20 s to start on 2 cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

EXIT_BAD_PARAMETERS = 2
EXIT_FAILED = 1


class UsageError(ValueError):
    """A parameter the user gave is wrong; the message says what to pass instead."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_PARAMETERS, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time; pass e.g. 2026-11-26T05:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be above 0")
    return value


def _settings():
    from flows.settings import load_settings

    return load_settings()


def cmd_db_url(args: argparse.Namespace) -> int:
    from flows.database import mask_url, resolve_database_url

    print(mask_url(resolve_database_url(_settings())))
    return 0


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from flows.database import connect, current_schema_version, migrate, resolve_database_url

    settings = _settings()
    with connect(resolve_database_url(settings), settings, autocommit=True) as conn:
        applied = migrate(conn)
        version = current_schema_version(conn)
    print(f"schema at version {version}" + (f" (applied: {', '.join(applied)})" if applied else " (already up to date)"))
    return 0


def cmd_db_stop(args: argparse.Namespace) -> int:
    from flows.database import stop_embedded_server

    settings = _settings()
    if settings.database_url:
        raise UsageError("db stop: DATABASE_URL is set, so no embedded server is in use; unset it to stop the embedded one")
    print("embedded PostgreSQL stopped" if stop_embedded_server(settings) else "embedded PostgreSQL was not running")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from data.sample import generate_sample
    from flows.database import connect, require_migrated, resolve_database_url

    settings = _settings()
    end = args.end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with connect(resolve_database_url(settings), settings) as conn:
        require_migrated(conn)
        with conn.transaction():
            written = generate_sample(conn, rows=args.rows, days=args.days, seed=args.seed, end=end, items=args.items)
    print(f"wrote {written['items']} items and {written['raw_events']:,} raw rows ({args.days} days up to {end:%Y-%m-%d %H:%M} UTC, seed {args.seed})")
    return 0


def check_database(settings) -> None:
    """Fail in one line, before Prefect starts, when the database is unreachable or unmigrated."""
    from flows.database import connect, require_migrated, resolve_database_url

    with connect(resolve_database_url(settings), settings) as conn:
        require_migrated(conn)


def cmd_run(args: argparse.Namespace) -> int:
    check_database(_settings())
    from flows.runs import daily, hourly

    if args.flow == "hourly":
        figures = hourly(as_of=args.as_of, lookback_hours=args.lookback_hours)
    else:
        figures = daily(as_of=args.as_of)
    print(_format_figures(figures))
    return 0


def _format_figures(figures: dict) -> str:
    rejected = ", ".join(f"{k} {v}" for k, v in figures.get("rows_rejected", {}).items())
    written = ", ".join(f"{k} {v}" for k, v in figures.get("rows_written", {}).items())
    return (
        f"window {figures['window_start']} → {figures['window_end']}: read {figures['rows_read']:,} rows, "
        f"rejected {rejected}, bots {figures['bot_rows']:,}, items {figures['items_touched']}, written {written}"
    )


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; pass e.g. 2026-09-01") from None


def cmd_backfill(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from flows.backfill import BackfillError, add_progress_listener, backfill, parse_chunk, validate_backfill

    settings = _settings()
    try:
        chunk_days = parse_chunk(args.chunk)
        today = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date()
        periods, items = validate_backfill(args.start, args.end, args.period.split(","), args.event, today, settings.timezone)
    except BackfillError as exc:
        raise UsageError(str(exc)) from None
    if args.dask_address and args.dask_workers:
        raise UsageError("backfill: pass either --dask-address or --dask-workers, not both")
    flow_to_run = backfill
    if args.dask_address or args.dask_workers:
        from prefect.settings import PREFECT_API_URL

        from flows.backfill import dask_task_runner, find_dask_problem

        api_url = PREFECT_API_URL.value()
        problem = find_dask_problem(api_url, args.dask_address)
        if problem:
            print(f"analytics backfill: {problem}", file=sys.stderr)
            return EXIT_FAILED
        flow_to_run = backfill.with_options(task_runner=dask_task_runner(args.dask_address, args.dask_workers, api_url))
    check_database(settings)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("backfill"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"), TimeElapsedColumn(), TimeRemainingColumn()) as bar:
        task_id = bar.add_task("chunks", total=None)

        def advance(done: int, total: int, figures: dict) -> None:
            bar.update(task_id, completed=done, total=total)

        remove = add_progress_listener(advance)
        failure = None
        try:
            report = flow_to_run(
                start=args.start, end=args.end, period_types=periods, event_ids=items, chunk_days=chunk_days, restart=args.restart, rebuild_all_time=args.rebuild_all_time
            )
        except Exception as exc:
            if flow_to_run is backfill:
                raise
            failure = exc
        finally:
            remove()
    if failure is not None:
        # A lost worker or scheduler: every chunk written was recorded as done, so the same command resumes.
        reason = (str(failure).splitlines() or [""])[0][:300]
        print(f"analytics backfill: failed on the Dask cluster ({type(failure).__name__}: {reason}); the chunks written are kept: run the same command again to resume", file=sys.stderr)
        return EXIT_FAILED
    written = ", ".join(f"{k} {v:,}" for k, v in report["rows_written"].items())
    rejected = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in report["rows_rejected"].items() if v) or "none"
    print(
        f"backfill {report['start']} → {report['end']} ({report['timezone']}): {report['chunks']} chunks "
        f"({report['chunks_resumed']} resumed), {report['rows_read']:,} rows read, rejected: {rejected}, "
        f"{report['bot_rows']:,} bot rows left out, {report['items_touched']} items; rows written: {written}; {report['seconds']:.1f} s"
    )
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    settings = _settings()
    check_database(settings)
    from flows.retention import RetentionError, render_report, retention

    try:
        report = retention(dry_run=args.dry_run, as_of=args.as_of)
    except RetentionError as exc:
        raise UsageError(f"retention: {exc}") from None
    print(render_report(report))
    return 0


def cmd_archive_query(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from flows.archive import ArchiveQueryError, query_archive

    settings = _settings()
    try:
        columns, rows = query_archive(settings.archive_root, args.sql)
    except ArchiveQueryError as exc:
        raise UsageError(f"archive query: {exc}") from None
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows[: args.limit]:
        table.add_row(*["" if value is None else str(value) for value in row])
    Console().print(table)
    print(f"{len(rows):,} rows from the archive at {settings.archive_root}")
    if len(rows) > args.limit:
        print(f"({len(rows) - args.limit:,} more rows not shown; raise --limit or aggregate)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo prints its own progress; Prefect's per-task lines would bury it.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.demo import run_demo

    return run_demo(rows=args.rows, days=args.days, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="analytics", description="Event-analytics ETL: raw tracking rows to per-item analytics.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = commands.add_parser("demo", help="create the schema, load sample data, run the flows, print the top items")
    demo.add_argument("--rows", type=positive_int, default=200_000, help="sample raw rows (default 200000)")
    demo.add_argument("--days", type=positive_int, default=14, help="days of history (default 14)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.set_defaults(handler=cmd_demo)

    db = commands.add_parser("db", help="database commands").add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db.add_parser("url", help="print the database URL (password masked)").set_defaults(handler=cmd_db_url)
    db.add_parser("migrate", help="apply the sql/migrations not yet applied").set_defaults(handler=cmd_db_migrate)
    db.add_parser("stop", help="stop the embedded PostgreSQL server (it is started again on demand)").set_defaults(handler=cmd_db_stop)

    generate = commands.add_parser("generate", help="write deterministic sample data")
    generate.add_argument("--rows", type=positive_int, default=100_000, help="raw rows (default 100000)")
    generate.add_argument("--days", type=positive_int, default=30, help="days of history ending at --end (default 30)")
    generate.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    generate.add_argument("--items", type=positive_int, default=200, help="items (default 200)")
    generate.add_argument("--end", type=parse_instant, default=None, help="end of the history (default: the current hour)")
    generate.set_defaults(handler=cmd_generate)

    backfill = commands.add_parser(
        "backfill",
        help="recompute a range of local days (then their weeks, months and the summaries)",
        description=(
            "Recompute local days [--start, --end) in the configured time zone (ANALYTICS_TIMEZONE); "
            "--end is exclusive. Hours are always recomputed; --period picks which of day, week and month "
            "are rolled up (weeks and months are recomputed whole). Rerunning the same command resumes an "
            "interrupted backfill."
        ),
    )
    backfill.add_argument("--start", type=parse_date, required=True, help="first local day, e.g. 2026-09-01")
    backfill.add_argument("--end", type=parse_date, required=True, help="local day after the last one (exclusive), e.g. 2026-10-01")
    backfill.add_argument("--period", default="hour,day,week,month", help="comma-separated period types (default hour,day,week,month)")
    backfill.add_argument("--event", nargs="+", metavar="UUID", default=None, help="only these items (default: all)")
    backfill.add_argument("--chunk", default="1d", help="days per chunk, e.g. 1d or 7d (default 1d)")
    backfill.add_argument("--restart", action="store_true", help="start over instead of resuming an unfinished backfill")
    backfill.add_argument(
        "--rebuild-all-time",
        action="store_true",
        help="recompute the touched items' all-time rows from all their hour rows (repairs all-time state changed by hand; slower)",
    )
    backfill.add_argument("--dask-address", default=os.environ.get("ANALYTICS_DASK_ADDRESS"), help="run chunks on this Dask scheduler (default: ANALYTICS_DASK_ADDRESS)")
    backfill.add_argument("--dask-workers", type=positive_int, default=None, help="run chunks on a local Dask cluster of this many processes")
    backfill.set_defaults(handler=cmd_backfill)

    retention = commands.add_parser(
        "retention",
        help="anonymise old IP addresses, archive old raw rows to Parquet, verify, then delete them",
        description=(
            "Anonymise ip_address of rows older than ANALYTICS_ANONYMISE_AFTER_DAYS (IPv4 to /24, IPv6 to /48); "
            "archive raw rows older than ANALYTICS_RETENTION_DAYS to Parquet under ANALYTICS_ARCHIVE_ROOT "
            "(month=YYYY-MM/), verify the files, then delete exactly those rows. All-time figures do not change."
        ),
    )
    retention.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    retention.add_argument("--as-of", type=parse_instant, default=None, help="the instant to run for (default: now), ISO 8601")
    retention.set_defaults(handler=cmd_retention)

    archive = commands.add_parser("archive", help="the Parquet archive of purged raw rows").add_subparsers(dest="archive_command", required=True, parser_class=_Parser)
    query = archive.add_parser("query", help="run DuckDB SQL over the archive (a view named raw_events) and print a table")
    query.add_argument("sql", help='e.g. "select month, count(*) from raw_events group by 1 order by 1"')
    query.add_argument("--limit", type=positive_int, default=50, help="rows printed at most (default 50)")
    query.set_defaults(handler=cmd_archive_query)

    run = commands.add_parser("run", help="run a flow once, now")
    run.add_argument("flow", choices=["hourly", "daily"], help="hourly: last closed hour plus lookback; daily: previous local day")
    run.add_argument("--as-of", type=parse_instant, default=None, help="the instant to run for (default: now), ISO 8601")
    run.add_argument("--lookback-hours", type=int, default=None, help="hourly only: extra hours recomputed (default: setting, 3)")
    run.set_defaults(handler=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from flows.database import DatabaseError
    from flows.settings import SettingsError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        # Usage errors start with the command they are about: "analytics backfill: start … ".
        print(f"analytics {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except SettingsError as exc:
        print(f"analytics: {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except DatabaseError as exc:
        print(f"analytics: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
