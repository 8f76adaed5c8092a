"""Load on `analytics serve` over 127.0.0.1: read latency at 32 concurrent clients (uncached,
in-process cache, Redis), tracking throughput with group commit against single-row INSERTs, and a
SIGKILL mid-load after which every acknowledged row must be in the table.

Every loop is bounded (a fixed number of requests) and the services it starts are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from bench.common import recompute, scratch_database
from data.sample import generate_sample
from flows.database import Database
from flows.settings import load_settings

ANALYTICS = Path(sys.executable).parent / "analytics"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


class Connection:
    """A minimal keep-alive HTTP/1.1 client: the bench's own overhead stays small next to the service's."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: {USER_AGENT}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(url: str, **env: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"DATABASE_URL": url} | env
    process = subprocess.Popen([str(ANALYTICS), "serve", "--port", str(port)], env=environment, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, body = asyncio.run(_once(port, "GET", "/health"))
            if status == 200 and (json.loads(body)["listening"] or json.loads(body)["cache"] == "off"):
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("analytics serve did not start within 120 s")


async def _once(port: int, method: str, path: str) -> tuple[int, bytes]:
    connection = Connection(port)
    try:
        return await connection.request(method, path)
    finally:
        connection.close()


def stop_service(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def run_clients(port: int, clients: int, requests: list[tuple[str, str, bytes]]) -> tuple[list[float], list[tuple[int, bytes]]]:
    """Send `requests` over `clients` keep-alive connections at once; latencies and answers."""
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = []
    queue = list(reversed(requests))

    async def client() -> None:
        connection = Connection(port)
        try:
            while queue:
                method, path, body = queue.pop()
                started = time.perf_counter()
                try:
                    answer = await connection.request(method, path, body)
                except (OSError, asyncio.IncompleteReadError):
                    answers.append((0, b""))
                    return
                latencies.append(time.perf_counter() - started)
                answers.append(answer)
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, answers


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def read_requests(items: list[str], count: int, seed: int) -> list[tuple[str, str, bytes]]:
    """Summary and day-row reads spread over the items, as dashboards would send them."""
    pick = random.Random(seed)
    out = []
    for n in range(count):
        item = pick.choice(items)
        path = f"/api/events/{item}/analytics" if n % 2 else f"/api/events/{item}/analytics/periods?period_type=day&start_date=2026-10-01"
        out.append(("GET", path, b""))
    return out


def track_requests(items: list[str], count: int) -> list[tuple[str, str, bytes]]:
    return [
        ("POST", f"/api/events/{items[n % len(items)]}/analytics/track", json.dumps({"event_type": "view", "session_id": f"b{n}"}).encode())
        for n in range(count)
    ]


def raw_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from event_analytics_events").fetchone()[0]


async def single_row_inserts(url: str, items: list[str], count: int, clients: int) -> float:
    """The plan's way: one INSERT, one commit, per tracked row, from `clients` connections at once; rows per second."""
    remaining = list(range(count))

    async def client() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while remaining:
                n = remaining.pop()
                await conn.execute(
                    "insert into event_analytics_events (event_id, event_type, session_id, user_agent, metadata) values (%s, 'view', %s, %s, '{}')",
                    (items[n % len(items)], f"i{n}", USER_AGENT),
                )

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return count / (time.perf_counter() - started)


def measure_reads(url: str, items: list[str], count: int, clients: int, label: str, **env: str) -> dict:
    process, port = start_service(url, **env)
    try:
        asyncio.run(run_clients(port, clients, read_requests(items, count, seed=2)))  # warm-up (fills the cache)
        latencies, answers = asyncio.run(run_clients(port, clients, read_requests(items, count, seed=3)))
    finally:
        stop_service(process)
    errors = sum(1 for status, _ in answers if status != 200)
    started_total = sum(latencies)
    return {
        "label": label,
        "requests": len(answers),
        "errors": errors,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "mean_ms": 1000 * started_total / len(latencies),
    }


def measure_tracking(url: str, items: list[str], count: int, clients: int, **env: str) -> dict:
    process, port = start_service(url, **env)
    before = raw_rows(url)
    try:
        asyncio.run(run_clients(port, clients, track_requests(items, min(500, count))))  # warm-up
        before = raw_rows(url)
        started = time.perf_counter()
        _, answers = asyncio.run(run_clients(port, clients, track_requests(items, count)))
        seconds = time.perf_counter() - started
    finally:
        stop_service(process)
    acknowledged = sum(1 for status, _ in answers if status == 200)
    return {
        "acknowledged": acknowledged,
        "errors": len(answers) - acknowledged,
        "rows_stored": raw_rows(url) - before,
        "rows_per_s": acknowledged / seconds,
    }


def measure_kill(url: str, items: list[str], count: int, clients: int, kill_after: float) -> dict:
    """Track at full speed, SIGKILL the service after `kill_after` seconds, then look for every acknowledged id."""
    process, port = start_service(url)

    async def load() -> list[tuple[int, bytes]]:
        task = asyncio.ensure_future(run_clients(port, clients, track_requests(items, count)))
        await asyncio.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
        return (await task)[1]

    answers = asyncio.run(load())
    process.wait()
    acknowledged = {json.loads(body)["id"] for status, body in answers if status == 200}
    with psycopg.connect(url) as conn:
        stored = {
            row[0] for row in conn.execute("select id::text from event_analytics_events where id = any(%s::uuid[])", (list(acknowledged),))
        }
    return {
        "acknowledged": len(acknowledged),
        "acknowledged_and_stored": len(stored),
        "lost": len(acknowledged - stored),
        "cut_off": sum(1 for status, _ in answers if status == 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="sample raw rows behind the figures (default 100000)")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--reads", type=int, default=4000, help="read requests per cache setting (default 4000)")
    parser.add_argument("--tracks", type=int, default=4000, help="tracking requests per run (default 4000)")
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()

    settings = load_settings()
    end = datetime(2026, 11, 1, tzinfo=UTC)
    with scratch_database(settings) as url:
        with psycopg.connect(url) as conn:
            generate_sample(conn, rows=args.rows, days=30, seed=1, end=end, items=args.items)
        recompute(Database(url, settings), (end - timedelta(days=30)).date(), end.date(), 7, end)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
            items = [row[0] for row in conn.execute("select id::text from events order by id")]
        print(f"{args.rows:,} raw rows, {len(items)} items, 127.0.0.1, {os.cpu_count()} cores\n")

        print(f"reads, {args.clients} concurrent clients, {args.reads:,} requests each (half summary, half day rows):")
        for label, env in (
            ("uncached", {"ANALYTICS_SERVE_CACHE": "off"}),
            ("in-process cache", {}),
            ("Redis cache", {"REDIS_URL": REDIS_URL}),
        ):
            r = measure_reads(url, items, args.reads, args.clients, label, **env)
            print(f"  {label:18} p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms  mean {r['mean_ms']:6.2f} ms  errors {r['errors']}")

        print(f"\ntracking, {args.clients} concurrent clients, {args.tracks:,} requests:")
        baseline = asyncio.run(single_row_inserts(url, items, args.tracks, args.clients))
        print(f"  single-row INSERTs, one commit each, {args.clients} connections, no HTTP: {baseline:8.0f} rows/s")
        for label, env in (
            ("service, one INSERT per request", {"ANALYTICS_TRACK_BATCH_ROWS": "1", "ANALYTICS_TRACK_WRITERS": str(args.clients)}),
            ("service, group commit (default)", {}),
            ("service, group commit, no wait", {"ANALYTICS_TRACK_BATCH_WAIT_MS": "0"}),
        ):
            t = measure_tracking(url, items, args.tracks, args.clients, **env)
            print(
                f"  {label:33} {t['rows_per_s']:8.0f} rows/s acknowledged; errors {t['errors']}; rows stored {t['rows_stored']:,} for {t['acknowledged']:,} acknowledged"
            )

        k = measure_kill(url, items, args.tracks * 5, args.clients, kill_after=3.0)
        print(
            f"\nSIGKILL after 3 s of tracking: {k['acknowledged']:,} acknowledged, {k['acknowledged_and_stored']:,} of them stored, {k['lost']} lost; {k['cut_off']} requests cut off unanswered"
        )


if __name__ == "__main__":
    main()
