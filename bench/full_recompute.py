"""The analyst's backfill, through the real command line, against the I/O floor measured in the same run.

    uv run python -m bench.full_recompute --rows 1000000 --days 120
    uv run python -m bench.full_recompute --template perf10m_base --days 120   # rows already generated there

Floor = a bare binary COPY of the raw columns the metrics need, to nowhere, plus a bare binary COPY
of the result rows (event_analytics and event_analytics_summary) into empty ordinary tables with no
index, key or trigger: storing rows at all, with the WAL any stored row needs. Passes one to eight
(bench/README.md) COPYed into temporary tables, which skip the WAL and shared buffers; that floor is
still measured and its ratio printed beside, so that their figures stay comparable. The floor and the
backfill each start from a finished checkpoint (copying the template writes WAL enough to make one
due), and the WAL the command wrote is printed.
The contract floor, printed beside it, is the same raw COPY out plus a binary COPY of everything
the backfill stored, the visitor state that keeps unique counts exact included, into empty logged
tables with the plan's keys, indexes and foreign keys: what PostgreSQL needs to store these rows
at all, before any computation.
The backfill is `analytics backfill --start … --end …` with default options, run as a user runs it
(a subprocess of the installed command, Prefect included, on the local Prefect server the command
starts or reuses), timed by the wall clock, with its peak RSS. Where its time went comes from the
backfill's own records: each chunk's queue (for its extract-and-compute turn), extract, compute,
lock-wait and write seconds (event_analytics_backfill_chunks), the flow's start and end
(event_analytics_backfills). CPU seconds over the command, by process: the command's own, the
PostgreSQL server's (every backend it had, when it runs on this machine) and the local Prefect
server's.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg

from bench.common import scratch_database
from data.sample import generate_sample
from flows.settings import load_settings

NEEDED_COLUMNS = """event_id, event_type, user_id, session_id, referrer, user_agent, page_url, "timestamp",
    metadata ->> 'time_on_page_seconds', metadata ->> 'age_group', metadata ->> 'gender'"""
RESULT_TABLES = ("event_analytics", "event_analytics_summary")
STORED_TABLES = (*RESULT_TABLES, "event_analytics_visitor_hours", "event_analytics_visitors")
PLAN_SECONDS = 294.0  # the plan's PL/pgSQL on 1M rows, 200 items, 120 days, seven counts only (spec)


def floor_extract(url: str) -> float:
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor().copy(f"copy (select {NEEDED_COLUMNS} from event_analytics_events) to stdout (format binary)") as copy:
            for _ in copy:
                pass
        return time.perf_counter() - started


def _copy_out(conn: psycopg.Connection, table: str) -> io.BytesIO:
    buffer = io.BytesIO()
    with conn.cursor().copy(f"copy {table} to stdout (format binary)") as copy:
        for block in copy:
            buffer.write(block)
    return buffer


def _timed_copy_in(conn: psycopg.Connection, target: str, buffer: io.BytesIO) -> tuple[int, float]:
    """COPY a binary buffer into `target` and commit; the rows it then holds and the seconds it took."""
    started = time.perf_counter()
    with conn.cursor().copy(f"copy {target} from stdin (format binary)") as copy:
        copy.write(buffer.getbuffer())
    conn.commit()
    elapsed = time.perf_counter() - started
    return conn.execute(f"select count(*) from {target}").fetchone()[0], elapsed


def copy_out_results(url: str) -> dict[str, io.BytesIO]:
    """The result rows as the backfill left them, in binary COPY format, by table."""
    with psycopg.connect(url) as conn:
        return {table: _copy_out(conn, table) for table in RESULT_TABLES}


def floor_load(url: str, results: dict[str, io.BytesIO], *, temporary: bool) -> tuple[int, float]:
    """COPY the result rows into empty tables with no index, key or trigger (ordinary ones, or
    temporary ones with no WAL); return how many and the seconds."""
    rows, elapsed = 0, 0.0
    kind = "temp" if temporary else ""
    with psycopg.connect(url) as conn:
        for table, buffer in results.items():
            conn.execute(f"create {kind} table floor_{table} (like {table} including defaults)")
            conn.commit()
            copied, seconds = _timed_copy_in(conn, f"floor_{table}", buffer)
            rows, elapsed = rows + copied, elapsed + seconds
            conn.execute(f"drop table floor_{table}")
            conn.commit()
    return rows, elapsed


def contract_floor(url: str) -> tuple[int, float]:
    """COPY what the backfill stored (result rows and the visitor state that keeps unique counts
    exact) into empty logged tables with the plan's keys, indexes and foreign keys, as the real
    tables have them: what PostgreSQL needs to store these rows at all. Rows and seconds."""
    rows, elapsed = 0, 0.0
    with psycopg.connect(url) as conn:
        for table in STORED_TABLES:
            buffer = _copy_out(conn, table)
            conn.execute(f"create table contract_{table} (like {table} including all)")
            if table in ("event_analytics", "event_analytics_summary"):
                conn.execute(f"alter table contract_{table} add foreign key (event_id) references events (id) on delete cascade")
            conn.commit()
            copied, seconds = _timed_copy_in(conn, f"contract_{table}", buffer)
            rows, elapsed = rows + copied, elapsed + seconds
            conn.execute(f"drop table contract_{table}")
            conn.commit()
    return rows, elapsed


def _own_cpu_seconds(processes: Iterable[psutil.Process]) -> float:
    """User and system seconds of these processes (not their children), those that ended meanwhile left out."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def server_cpu_seconds(url: str) -> float | None:
    """CPU seconds used so far by the PostgreSQL server of `url` and every backend it has had: the
    postmaster's own and collected children's times, plus its live children's. None when the server
    is not a process of this machine that can be read."""
    try:
        with psycopg.connect(url) as conn:
            backend = conn.execute("select pg_backend_pid()").fetchone()[0]
            postmaster = psutil.Process(psutil.Process(backend).ppid())
        collected = postmaster.cpu_times()
        return collected.children_user + collected.children_system + _own_cpu_seconds([postmaster, *postmaster.children()])
    except (psutil.Error, OSError):
        return None


def prefect_server_cpu_seconds() -> float:
    """CPU seconds used so far by the local Prefect servers of this machine (`prefect server start`)."""
    commands = ((process, " ".join(process.info["cmdline"] or [])) for process in psutil.process_iter(["cmdline"]))
    return _own_cpu_seconds(process for process, command in commands if "prefect" in command and " server start" in command)


def settle(url: str) -> str | None:
    """Start from a finished checkpoint: copying the template and the backfill each write hundreds of
    MB of WAL, and a checkpoint they leave due would land on whatever is measured next. None when
    done, else why not (CHECKPOINT needs a superuser or pg_checkpoint)."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("checkpoint")
    except psycopg.errors.InsufficientPrivilege as error:
        return str(error).strip()
    return None


def wal_position(url: str) -> tuple[int, int]:
    """The server's WAL insert position in bytes, and how many checkpoints it has been asked for so far."""
    with psycopg.connect(url) as conn:
        return conn.execute("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, checkpoints_req from pg_stat_bgwriter").fetchone()


def run_cli(url: str, first: str, end: str, chunk: str | None) -> tuple[float, int, str, dict[str, float | None]]:
    """`analytics backfill` as a user runs it; wall seconds, peak RSS in kB, its last line, and the CPU
    seconds it took by process (PostgreSQL's None when its server is not a process of this machine)."""
    command = [str(Path(sys.executable).with_name("analytics")), "backfill", "--start", first, "--end", end]
    if chunk:
        command += ["--chunk", chunk]
    env = {**os.environ, "DATABASE_URL": url}
    before = (server_cpu_seconds(url), prefect_server_cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN))
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench: `{' '.join(command[1:])}` failed ({done.returncode}):\n{done.stderr[-3000:]}")
    time.sleep(0.2)  # the command's backends exit after it does
    after = (server_cpu_seconds(url), prefect_server_cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN))
    cpu = {
        "the analytics command": (after[2].ru_utime + after[2].ru_stime) - (before[2].ru_utime + before[2].ru_stime),
        "PostgreSQL server (all processes)": after[0] - before[0] if before[0] is not None and after[0] is not None else None,
        "the local Prefect server": after[1] - before[1],
    }
    return wall, after[2].ru_maxrss, done.stdout.strip().splitlines()[-1], cpu


def breakdown(url: str) -> dict[str, float]:
    """Where the backfill's time went, from its own records."""
    with psycopg.connect(url) as conn:
        started, finished = conn.execute(
            "select started_at, finished_at from event_analytics_backfills order by started_at desc limit 1"
        ).fetchone()
        stages, chunks, last = conn.execute(
            """select jsonb_build_object(
                   'queue', sum((figures->>'queue_seconds')::float),
                   'extract', sum((figures->>'extract_seconds')::float), 'compute', sum((figures->>'compute_seconds')::float),
                   'lock_wait', sum((figures->>'lock_wait_seconds')::float), 'write', sum((figures->>'write_seconds')::float)),
                   count(*), max(completed_at)
               from event_analytics_backfill_chunks"""
        ).fetchone()
    return {
        "flow": (finished - started).total_seconds(),
        "chunks (wall)": (last - started).total_seconds(),
        "finish (weeks, months, summaries)": (finished - last).total_seconds(),
        "chunks": chunks,
        **{f"chunk {stage} (sum)": float(value or 0) for stage, value in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--chunk", default=None, help="--chunk for the backfill (default: the command's own default)")
    parser.add_argument(
        "--template", default=None, help="copy this database (rows already generated up to 2026-11-01) instead of generating"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    settings = load_settings()
    end = datetime(2026, 11, 1, tzinfo=UTC)
    first = (end - timedelta(days=args.days)).date()
    timings: dict[str, float] = {}
    with scratch_database(settings, keep=args.keep, template=args.template) as url:
        if args.template is None:
            started = time.perf_counter()
            with psycopg.connect(url) as conn:
                generate_sample(conn, rows=args.rows, days=args.days, seed=1, end=end, items=args.items)
            timings["generate + COPY in"] = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
            raw_rows = conn.execute("select count(*) from event_analytics_events").fetchone()[0]
        unsettled = settle(url)
        timings["floor: COPY raw columns out"] = floor_extract(url)
        wal_before = wal_position(url)
        wall, peak_kb, last_line, cpu = run_cli(url, str(first), str(end.date()), args.chunk)
        wal_after = wal_position(url)
        wal_mb, checkpoints = (wal_after[0] - wal_before[0]) / 1e6, wal_after[1] - wal_before[1]
        timings["analytics backfill (wall clock)"] = wall
        stages = breakdown(url)
        settle(url)
        results = copy_out_results(url)
        result_rows, timings["floor: COPY result rows in"] = floor_load(url, results, temporary=False)
        _, temporary_in = floor_load(url, results, temporary=True)
        stored_rows, contract = contract_floor(url)

    floor_extract_seconds = timings["floor: COPY raw columns out"]
    floor = floor_extract_seconds + timings["floor: COPY result rows in"]
    print(
        f"\n{raw_rows:,} raw rows, {args.items} items, {args.days} days; {result_rows:,} result rows; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  command: analytics backfill --start {first} --end {end.date()}{' --chunk ' + args.chunk if args.chunk else ''}")
    print(f"  its last line: {last_line}")
    for label, seconds in timings.items():
        print(f"  {label:<40} {seconds:8.2f} s")
    print(f"  {'  start-up and exit (wall − flow)':<40} {wall - stages['flow']:8.2f} s")
    for label, value in stages.items():
        print(f"  {'  ' + label:<40} {value:8.2f}{'' if label == 'chunks' else ' s'}")
    for label, seconds in cpu.items():
        shown = f"{seconds:8.2f} s" if seconds is not None else "     n/a   (not a process of this machine)"
        print(f"  {'CPU: ' + label:<40} {shown}")
    print(f"  {'peak RSS of the command':<40} {peak_kb / 1024 / 1024:8.2f} GB")
    print(f"  {'WAL the command wrote':<40} {wal_mb:8.0f} MB   ({checkpoints} checkpoints requested meanwhile)")
    if unsettled is not None:
        print(f"  (no checkpoint before the measures: {unsettled})")
    print(f"  {'I/O floor (out + in)':<40} {floor:8.2f} s")
    print(f"  {'backfill / floor':<40} {wall / floor:8.2f} x   (target <= 8x, goal 2x)")
    temporary_floor = floor_extract_seconds + temporary_in
    print(
        f"  {'  the floor into temporary tables':<40} {temporary_floor:8.2f} s   "
        f"(passes one to eight: no WAL) backfill / it {wall / temporary_floor:.2f} x"
    )
    print(
        f"  {'contract floor':<40} {floor_extract_seconds + contract:8.2f} s   (raw COPY out, plus the {stored_rows:,} stored rows, "
        "visitor state included, COPYed into tables with the plan's keys, indexes and foreign keys)"
    )
    print(f"  {'backfill / contract floor':<40} {wall / (floor_extract_seconds + contract):8.2f} x")
    print(f"  {'plan PL/pgSQL baseline (spec)':<40} {PLAN_SECONDS:8.2f} s   (1M rows, 200 items, 120 days; seven counts only)")


if __name__ == "__main__":
    main()
