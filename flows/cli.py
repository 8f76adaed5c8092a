"""The `analytics` command: demo, database, sample data and flow runs."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import NoReturn

from data import NATURAL, SPREADS
from flows.parameters import MAX_LOOKBACK_HOURS, ParameterError, check_as_of

# Prefect's ephemeral API server needs more than its default 20 s to start on 2 cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

EXIT_BAD_PARAMETERS = 2
EXIT_FAILED = 1


class UsageError(ParameterError):
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


def lookback_hours(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of hours") from None
    if not 0 <= value <= MAX_LOOKBACK_HOURS:
        raise argparse.ArgumentTypeError(
            f"{value} is outside 0..{MAX_LOOKBACK_HOURS} hours; pass 0 to {MAX_LOOKBACK_HOURS} (a longer repair is a backfill)"
        )
    return value


def _settings():
    from flows.settings import load_settings

    return load_settings()


def cmd_db_url(args: argparse.Namespace) -> int:
    from flows.database import describe_embedded_server, mask_url

    settings = _settings()
    if settings.database_url:
        print(mask_url(settings.database_url))
        return 0
    # Printing an address must not start a server: say whether it runs instead.
    url, running = describe_embedded_server(settings)
    print(url)
    state = "running" if running else "not running; the first command that needs it starts it (e.g. analytics db migrate)"
    print(f"embedded PostgreSQL in {settings.embedded_data_dir}: {state}", file=sys.stderr)
    return 0


def cmd_db_migrate(args: argparse.Namespace) -> int:
    from flows.database import current_schema_version, migrate, resolve_database

    with resolve_database(_settings()).connect(autocommit=True) as conn:
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
    from psycopg.errors import UniqueViolation

    from data.sample import generate_sample
    from flows.database import require_migrated, resolve_database

    settings = _settings()
    end = args.end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with resolve_database(settings).connect() as conn:
        require_migrated(conn)
        try:
            with conn.transaction():
                written = generate_sample(
                    conn, rows=args.rows, days=args.days, seed=args.seed, end=end, items=args.items, spread=args.spread
                )
        except UniqueViolation:
            written = None
    if written is None:
        # A seed fixes every id it generates, so the same seed twice collides on the first item.
        raise UsageError(
            f"generate: the sample data of seed {args.seed} is already in the database, so nothing was written; "
            f"pass another --seed (e.g. --seed {args.seed + 1}) to add more"
        )
    print(
        f"wrote {written['items']} items and {written['raw_events']:,} raw rows ({args.days} days up to {end:%Y-%m-%d %H:%M} UTC, seed {args.seed})"
    )
    return 0


def backfill_has_work(settings, start: date, end: date, items: list[str] | None) -> bool:
    """Whether [start, end) holds raw rows (in the database or the archive) or figures a backfill would clear."""
    from flows.archive import months_overlapping, partition_files
    from flows.database import resolve_database
    from flows.sql import load_sql
    from flows.windows import day_window

    window = day_window(start, settings.timezone, (end - start).days)
    if any(partition_files(settings.archive_root, month) for month in months_overlapping(window.start, window.end)):
        return True
    with resolve_database(settings).connect() as conn:
        return conn.execute(load_sql("backfill_range_has_rows"), {"start": window.start, "end": window.end, "items": items}).fetchone()[0]


def check_database(settings) -> None:
    """Fail in one line, before Prefect starts, when the database is unreachable or unmigrated."""
    from flows.database import require_migrated, resolve_database

    with resolve_database(settings).connect() as conn:
        require_migrated(conn)


def ensure_orchestrator(settings) -> None:
    """Point Prefect at PREFECT_API_URL's server, else the local one (started on first use)."""
    from flows.orchestrator import ensure_prefect_api

    ensure_prefect_api(settings)


def cmd_run(args: argparse.Namespace) -> int:
    if args.flow == "daily" and args.lookback_hours is not None:
        raise UsageError(
            "run daily: --lookback-hours is for the hourly run only (the daily run recomputes the whole previous day); leave it out"
        )
    if args.as_of is not None:
        check_as_of(args.as_of, datetime.now(UTC), f"run {args.flow}", "--as-of")
    settings = _settings()
    check_database(settings)
    ensure_orchestrator(settings)
    from flows.runs import daily, hourly

    start_work()
    if args.flow == "hourly":
        figures = hourly(as_of=args.as_of, lookback_hours=args.lookback_hours)
    else:
        figures = daily(as_of=args.as_of)
    print(_format_figures(figures, settings.timezone))
    return 0


def _format_figures(figures: dict, timezone_name: str) -> str:
    """The run's figures in one line, as a person reads them (local window, counts in words)."""
    from flows.report import describe_counts
    from flows.windows import Window

    window = Window(datetime.fromisoformat(figures["window_start"]), datetime.fromisoformat(figures["window_end"]), timezone_name)
    return (
        f"{window.label('range')}: read {figures['rows_read']:,} rows, rejected {describe_counts(figures.get('rows_rejected', {}))}, "
        f"bots {figures['bot_rows']:,}, items {figures['items_touched']:,}, rows written: {describe_counts(figures.get('rows_written', {}))}"
    )


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; pass e.g. 2026-09-01") from None


def cmd_backfill(args: argparse.Namespace) -> int:
    from flows.parameters import check_backfill_request, parse_chunk, validate_backfill

    # What needs no settings first: the time zone is checked with Polars, which takes a while to load.
    chunk_days = parse_chunk(args.chunk)
    if args.stale:
        if args.start or args.end or args.event:
            raise UsageError("backfill: --stale finds its own days and items; pass it without --start, --end and --event")
    elif args.start is None or args.end is None:
        raise UsageError("backfill: pass --start and --end (local days, end exclusive), or --stale")
    else:
        check_backfill_request(args.start, args.end, args.period.split(","), args.event)
    settings = _settings()
    if args.stale:
        check_database(settings)
        from datetime import timedelta

        from flows.check import find_stale_days
        from flows.database import resolve_database

        stale_items, stale_days = find_stale_days(resolve_database(settings))
        if not stale_days:
            print("backfill --stale: no row was computed under other definitions; nothing to do")
            return 0
        args.start, args.end, args.event = stale_days[0], stale_days[-1] + timedelta(days=1), stale_items
    today = datetime.now(UTC).astimezone(settings.zone).date()
    periods, items = validate_backfill(args.start, args.end, args.period.split(","), args.event, today, settings.timezone)
    if args.dask_address and args.dask_workers:
        raise UsageError("backfill: pass either --dask-address or --dask-workers, not both")
    check_database(settings)
    if not backfill_has_work(settings, args.start, args.end, items):
        print(
            f"backfill {args.start} → {args.end} ({settings.timezone}): no raw rows in the database or the archive and no figures "
            "in this range, so there is nothing to compute; nothing was written"
        )
        return 0
    days = (args.end - args.start).days
    chunks = f"{-(-days // chunk_days):,} chunks of {chunk_days} day(s)" if chunk_days else f"chunks of up to {settings.chunk_rows:,} rows"
    print(f"backfill {args.start} → {args.end} ({settings.timezone}): {days:,} days in {chunks}")
    ensure_orchestrator(settings)
    from flows.backfill import add_progress_listener, backfill

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

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    start_work()
    with Progress(
        TextColumn("backfill"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"), TimeElapsedColumn(), TimeRemainingColumn()
    ) as bar:
        task_id = bar.add_task("chunks", total=None)

        def advance(done: int, total: int, figures: dict) -> None:
            bar.update(task_id, completed=done, total=total)

        remove = add_progress_listener(advance)
        failure = None
        try:
            report = flow_to_run(
                start=args.start,
                end=args.end,
                period_types=periods,
                event_ids=items,
                chunk_days=chunk_days,
                restart=args.restart,
                rebuild_all_time=args.rebuild_all_time,
            )
        except Exception as exc:
            if flow_to_run is backfill:
                raise
            failure = exc
        finally:
            remove()
    if failure is not None:
        # A lost worker or scheduler: every chunk written was recorded as done, so the same command resumes.
        # Dask cannot stop a task that is running: a chunk a surviving worker was writing still commits
        # after this line, with its record, and the rerun skips it like any other written chunk.
        reason = (str(failure).splitlines() or [""])[0][:300]
        print(
            f"analytics backfill: failed on the Dask cluster ({type(failure).__name__}: {reason}); the chunks written are kept, "
            "and a chunk a worker is still running commits when it ends: run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_FAILED
    written = ", ".join(f"{k} {v:,}" for k, v in report["rows_written"].items())
    rejected = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in report["rows_rejected"].items() if v) or "none"
    print(
        f"backfill {report['start']} → {report['end']} ({report['timezone']}): {report['chunks']} chunks "
        f"({report['chunks_resumed']} resumed), {report['rows_read']:,} rows read, rejected: {rejected}, "
        f"{report['bot_rows']:,} bot rows left out, {report['items_touched']} items; rows written: {written}; {report['seconds']:.1f} s"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from transforms.consistency import parse_event_ids

    try:
        items = parse_event_ids(args.event, "check") if args.event else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = _settings()
    check_database(settings)
    ensure_orchestrator(settings)
    from flows.check import check
    from transforms.consistency import format_drift_line

    figures = check(event_ids=items, repair=args.repair, fail_on_drift=False)
    for line in figures["found"]:
        print(format_drift_line(line))
    for command in figures["backfills"]:
        print(f"check: hour rows need their raw rows again: {command}")
    if figures["stale_rows"]:
        by_type = ", ".join(f"{kind} {n:,}" for kind, n in figures["stale_by_type"].items())
        print(
            f"check: stale: {figures['stale_rows']:,} rows computed under other definitions ({by_type}); run `analytics backfill --stale` to recompute them"
        )
    if not figures["found"]:
        print(f"check: no drift in {figures['items_checked']:,} items")
        return 0
    if not args.repair:
        print(
            f"check: drift in {len(figures['found'])} kinds; run `analytics check --repair` to recompute the drifted items from their hour rows and visitor state"
        )
        return EXIT_FAILED
    if figures["remaining"]:
        print(f"check: {len(figures['remaining'])} kinds still drift after the repair; run the backfills above")
        return EXIT_FAILED
    print(f"check: repaired {len(figures['repaired_items']):,} items; nothing drifts now")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    if args.as_of is not None:
        check_as_of(args.as_of, datetime.now(UTC), "retention", "--as-of")
    from flows.settings import require_anonymise_before_archive

    settings = _settings()
    require_anonymise_before_archive(settings)
    check_database(settings)
    ensure_orchestrator(settings)
    from flows.retention import RetentionError, render_report, retention

    try:
        report = retention(dry_run=args.dry_run, as_of=args.as_of)
    except RetentionError as exc:
        message = str(exc)
        raise UsageError(message if message.startswith("retention:") else f"retention: {message}") from None
    print(render_report(report))
    return 0


# Shown escaped rather than obeyed: C0 and C1 controls (ESC starts colours, cursor moves and
# hyperlinks), DEL, line and paragraph separators, and the bidi controls that reorder what follows.
_UNPRINTABLE = {
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}
_ESCAPES = {code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _UNPRINTABLE}


def printable(value: object) -> str:
    """A stored value as plain text for a terminal: control characters escaped, NULL as empty."""
    return "" if value is None else str(value).translate(_ESCAPES)


def cmd_archive_query(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from flows.archive import ArchiveQueryError, check_archive, query_archive

    settings = _settings()
    if args.timeout > 86_400:
        raise UsageError(f"archive query: --timeout {args.timeout} is more than a day; pass at most 86400 seconds")
    # Analysts may read parts that fail verification; they are told which.
    for problem in check_archive(settings.archive_root):
        print(f"analytics archive query: warning: {printable(problem)}", file=sys.stderr)
    try:
        answer = query_archive(settings.archive_root, args.sql, limit=args.limit, timeout_seconds=args.timeout)
    except ArchiveQueryError as exc:
        raise UsageError(f"archive query: {printable(exc)}") from None
    # Text cells, never markup: a stored "[/x]" is printed as it is.
    table = Table()
    for column in answer.columns:
        table.add_column(Text(printable(column)))
    for row in answer.rows:
        table.add_row(*[Text(printable(value)) for value in row])
    Console(markup=False, highlight=False, emoji=False).print(table)
    if answer.truncated:
        print(f"only the first {args.limit:,} rows are shown; the query returns more (raise --limit, or aggregate)")
    else:
        print(f"{len(answer.rows):,} rows from the archive at {settings.archive_root}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo prints its own progress; Prefect's per-task lines would bury it.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    ensure_orchestrator(_settings())
    from flows.demo import run_demo

    start_work()
    return run_demo(rows=args.rows, days=args.days, seed=args.seed)


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"serve: port {args.port} is not between 1 and 65535; pass e.g. --port 8000")
    from service.server import serve

    return serve(args.host, args.port)


def cmd_prefect_url(args: argparse.Namespace) -> int:
    from flows.orchestrator import ensure_prefect_api, ui_url_of

    api_url = ensure_prefect_api(_settings())
    print(api_url if args.api else ui_url_of(api_url))
    return 0


def cmd_prefect_stop(args: argparse.Namespace) -> int:
    from flows.orchestrator import configured_api_url, stop_local_server

    if configured_api_url(os.environ)[0]:
        raise UsageError("prefect stop: PREFECT_API_URL is set, so that server is in use, not a local one; unset it to stop the local one")
    server = stop_local_server(_settings())
    print(f"local Prefect server stopped (pid {server.pid}, {server.ui_url})" if server else "local Prefect server was not running")
    return 0


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

    prefect = commands.add_parser("prefect", help="the local Prefect server the flows report to").add_subparsers(
        dest="prefect_command", required=True, parser_class=_Parser
    )
    url = prefect.add_parser("url", help="print the Prefect UI's address (starting the local server if it is not running)")
    url.add_argument("--api", action="store_true", help="print the API URL instead, for PREFECT_API_URL")
    url.set_defaults(handler=cmd_prefect_url)
    prefect.add_parser("stop", help="stop the local Prefect server (it is started again on demand)").set_defaults(handler=cmd_prefect_stop)

    generate = commands.add_parser("generate", help="write deterministic sample data")
    generate.add_argument("--rows", type=positive_int, default=100_000, help="raw rows (default 100000)")
    generate.add_argument("--days", type=positive_int, default=30, help="days of history ending at --end (default 30)")
    generate.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    generate.add_argument("--items", type=positive_int, default=200, help="items (default 200)")
    generate.add_argument("--end", type=parse_instant, default=None, help="end of the history (default: the current hour)")
    generate.add_argument(
        "--spread",
        choices=SPREADS,
        default=NATURAL,
        help="natural: popular items and busy evenings (default); even: every item and hour alike, as in the seed-style rows of bench/README.md",
    )
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
    backfill.add_argument("--start", type=parse_date, default=None, help="first local day, e.g. 2026-09-01")
    backfill.add_argument("--end", type=parse_date, default=None, help="local day after the last one (exclusive), e.g. 2026-10-01")
    backfill.add_argument(
        "--stale", action="store_true", help="recompute the items and days whose rows were computed under other definitions"
    )
    backfill.add_argument("--period", default="hour,day,week,month", help="comma-separated period types (default hour,day,week,month)")
    backfill.add_argument("--event", nargs="+", metavar="UUID", default=None, help="only these items (default: all)")
    backfill.add_argument(
        "--chunk",
        default="auto",
        help="days per chunk, e.g. 1d or 7d; auto (the default) sizes chunks by their rows (ANALYTICS_CHUNK_ROWS)",
    )
    backfill.add_argument("--restart", action="store_true", help="start over instead of resuming an unfinished backfill")
    backfill.add_argument(
        "--rebuild-all-time",
        action="store_true",
        help="recompute the touched items' all-time rows from all their hour rows (repairs all-time state changed by hand; slower)",
    )
    backfill.add_argument(
        "--dask-address",
        default=os.environ.get("ANALYTICS_DASK_ADDRESS"),
        help="run chunks on this Dask scheduler (default: ANALYTICS_DASK_ADDRESS)",
    )
    backfill.add_argument(
        "--dask-workers", type=positive_int, default=None, help="run chunks on a local Dask cluster of this many processes"
    )
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

    archive = commands.add_parser("archive", help="the Parquet archive of purged raw rows").add_subparsers(
        dest="archive_command", required=True, parser_class=_Parser
    )
    query = archive.add_parser("query", help="run DuckDB SQL over the archive (a view named raw_events) and print a table")
    query.add_argument("sql", help='e.g. "select month, count(*) from raw_events group by 1 order by 1"')
    query.add_argument("--limit", type=positive_int, default=1_000, help="rows printed at most (default 1000); no more are read")
    query.add_argument("--timeout", type=positive_int, default=60, help="seconds before the query is stopped (default 60)")
    query.set_defaults(handler=cmd_archive_query)

    serve = commands.add_parser("serve", help="serve the tracking and read routes, the analytics page and the API docs (/docs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port to listen on (default 8000)")
    serve.set_defaults(handler=cmd_serve)

    check = commands.add_parser(
        "check",
        help="verify stored analytics against their invariants; --repair recomputes the drifted items",
        description=(
            "Verify that day, week, month and all_time rows equal the sums of their hours, unique counts equal "
            "the visitor state, summaries equal all_time rows, breakdowns add up to views and ratios lie in range. "
            "Reads stored analytics only. Exit code 1 on drift."
        ),
    )
    check.add_argument("--event", nargs="+", metavar="UUID", default=None, help="only these items (default: all)")
    check.add_argument("--repair", action="store_true", help="recompute the drifted items from their hour rows and visitor state")
    check.set_defaults(handler=cmd_check)

    run = commands.add_parser("run", help="run a flow once, now")
    run.add_argument("flow", choices=["hourly", "daily"], help="hourly: last closed hour plus lookback; daily: previous local day")
    run.add_argument("--as-of", type=parse_instant, default=None, help="the instant to run for (default: now), ISO 8601")
    run.add_argument(
        "--lookback-hours",
        type=lookback_hours,
        default=None,
        help=f"hourly only: extra hours recomputed, 0..{MAX_LOOKBACK_HOURS} (default: setting, 3)",
    )
    run.set_defaults(handler=cmd_run)
    return parser


# Commands that import Prefect, Polars and the flows before their work and say when it begins
# (start_work): they import with the garbage collector paused.
PAUSED_START = frozenset({"backfill", "run", "demo"})


def start_work() -> None:
    """The imports are done and the work begins: the objects they made (half a million, nearly all
    kept until exit) are set aside from every later collection, and the collector resumes. Paused,
    the imports take 0.2 to 0.4 s less; with the objects set aside, no later full collection walks
    them (bench/README.md, seventh pass)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:
        # Run as the program (not called from Python, e.g. a test): Ctrl-C and SIGTERM end it within seconds.
        from flows.interrupts import exit_promptly_on_signals

        exit_promptly_on_signals(args.command)
        if args.command in PAUSED_START:
            gc.disable()
    try:
        return _run_command(args)
    finally:
        if argv is None:
            # The program ends: its objects are set aside, so the interpreter's last full collection
            # has nothing to walk (0.5 s after a backfill's last line). Nothing here holds buffered
            # output that only a collection would flush: connections are closed, Prefect's log and
            # event workers drain before the interpreter finalises.
            gc.freeze()


def _run_command(args: argparse.Namespace) -> int:
    from flows.settings import SettingsError

    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ParameterError as exc:
        # Parameter errors start with the command they are about: "analytics backfill: start … ".
        print(f"analytics {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except SettingsError as exc:
        print(f"analytics: {exc}", file=sys.stderr)
        return EXIT_BAD_PARAMETERS
    except Exception as exc:
        # Imported here, not above: a parameter error must answer before psycopg loads.
        from flows.database import DatabaseError
        from flows.orchestrator import OrchestratorError

        if not isinstance(exc, (DatabaseError, OrchestratorError)):
            raise
        print(f"analytics: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
