"""Backfill speed-up on 1, 2 and 4 local Dask workers over the default runner, and where each chunk's time goes.

    uv run python -m bench.dask_scaling --rows 1000000 --days 60 --repeat 2

Runs `uv run analytics backfill` as a user does, against a Prefect server it starts, on a scratch
database it fills with `generate_sample`; the analytics tables are emptied before every run.
Chunk stages come from event_analytics_backfill_chunks.figures (extract, compute, waiting for
the write lock, writing), so they are the workers' own clocks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from bench.common import scratch_database
from data.sample import generate_sample
from flows.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("extract_seconds", "compute_seconds", "lock_wait_seconds", "write_seconds")


@contextmanager
def prefect_server(home: Path):
    """`prefect server start` on a free port in its own process group; yields its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    with (home / "server.log").open("ab") as log:
        server = subprocess.Popen(
            ["uv", "run", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"prefect server did not start; see {home / 'server.log'}") from None
                time.sleep(1)
        yield api_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


def reset(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate event_analytics, event_analytics_summary, event_analytics_visitor_hours, event_analytics_visitors, event_analytics_backfills cascade"
        )


def chunk_stages(url: str) -> dict[str, float]:
    """Sum of each stage over the chunks of the backfill just run, plus the chunk count and rows read."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("select figures from event_analytics_backfill_chunks").fetchall()
    totals = {stage: sum(figures.get(stage, 0.0) for (figures,) in rows) for stage in STAGES}
    totals["chunks"] = len(rows)
    totals["rows_read"] = sum(figures.get("rows_read", 0) for (figures,) in rows)
    return totals


def finish_seconds(api_url: str) -> float:
    """Run time of the latest finish_backfill task (weeks, months and summaries, after the chunks)."""
    body = {"sort": "EXPECTED_START_TIME_DESC", "limit": 1, "task_runs": {"name": {"like_": "finish_backfill"}}}
    request = urllib.request.Request(
        f"{api_url}/task_runs/filter", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)[0]["total_run_time"]


def run_backfill(env: dict[str, str], start: date, end: date, workers: int | None) -> dict[str, float]:
    argv = ["uv", "run", "analytics", "backfill", "--start", str(start), "--end", str(end), "--chunk", "1d"]
    if workers:
        argv += ["--dask-workers", str(workers)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    flow_seconds = float(re.search(r"; ([0-9.]+) s$", done.stdout.strip()).group(1))
    return {"wall": wall, "flow": flow_seconds, "load": load_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", default="0,1,2,4", help="0 is the default runner (ANALYTICS_BACKFILL_WORKERS threads)")
    args = parser.parse_args()
    configs = [int(n) for n in args.workers.split(",")]

    end_instant = datetime(2026, 11, 1, tzinfo=UTC)
    start, end = (end_instant - timedelta(days=args.days)).date(), end_instant.date()
    settings = load_settings()
    with scratch_database(settings) as url, tempfile.TemporaryDirectory(prefix="bench-prefect-") as home:
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            generate_sample(conn, rows=args.rows, days=args.days, seed=42, end=end_instant, items=200)
        print(f"generated {args.rows:,} rows over {args.days} days in {time.perf_counter() - started:.1f} s")
        with prefect_server(Path(home)) as api_url:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env |= {"DATABASE_URL": url, "PREFECT_API_URL": api_url, "PREFECT_HOME": home, "PREFECT_LOGGING_LEVEL": "WARNING"}
            results: dict[int, list[dict]] = {n: [] for n in configs}
            for attempt in range(args.repeat):
                for workers in configs:
                    reset(url)
                    figures = run_backfill(env, start, end, workers or None) | chunk_stages(url) | {"finish": finish_seconds(api_url)}
                    results[workers].append(figures)
                    label = "default" if workers == 0 else f"dask {workers}"
                    print(
                        f"[{attempt + 1}/{args.repeat}] {label:8} wall {figures['wall']:6.1f} s, flow {figures['flow']:6.1f} s, load {figures['load']:.1f}; "
                        + ", ".join(f"{stage.removesuffix('_seconds')} {figures[stage]:.1f} s" for stage in STAGES)
                        + f", finish {figures['finish']:.1f} s",
                        flush=True,
                    )
    print_table(results, args.rows)


def print_table(results: dict[int, list[dict]], rows: int) -> None:
    baseline = statistics.median(r["flow"] for r in results.get(0, [])) if results.get(0) else None
    print()
    print(
        "| runner | flow s (median; each run) | wall s (median) | speed-up (flow) | extract s | compute s | lock wait s | write s | finish s | load avg at start |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for workers, runs in results.items():
        flow = statistics.median(r["flow"] for r in runs)
        stage = {s: statistics.median(r[s] for r in runs) for s in STAGES}
        label = "default (2 threads)" if workers == 0 else f"Dask, {workers} worker{'s' if workers > 1 else ''}"
        each = ", ".join(f"{r['flow']:.1f}" for r in runs)
        speed = f"{baseline / flow:.2f}x" if baseline else "-"
        loads = ", ".join(f"{r['load']:.1f}" for r in runs)
        print(
            f"| {label} | {flow:.1f} ({each}) | {statistics.median(r['wall'] for r in runs):.1f} | {speed} | "
            f"{stage['extract_seconds']:.1f} | {stage['compute_seconds']:.1f} | {stage['lock_wait_seconds']:.1f} | {stage['write_seconds']:.1f} | {statistics.median(r['finish'] for r in runs):.1f} | {loads} |"
        )
    reads = statistics.median(r["rows_read"] for runs in results.values() for r in runs)
    print(f"\nrows read per run: {reads:,.0f} of {rows:,} generated; stage columns are sums over chunks (worker time, not wall time)")


if __name__ == "__main__":
    main()
