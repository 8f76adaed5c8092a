"""Backfills on Dask as users run them: `uv run analytics backfill` in a subprocess, against a real
Prefect server, a local cluster or a scheduler and workers started as separate processes."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import TEMPLATE_DATABASE, with_database
from tests.flows.processes import PROJECT_ROOT, clean_environment, free_port, prefect_server, run_cli, started, wait_until

ZONE = "Europe/Paris"
START, END = "2026-09-01", "2026-09-16"
CHUNKS = 15
BACKFILL = ["backfill", "--start", START, "--end", END, "--chunk", "1d"]
# id is a surrogate key drawn at insert, created_at and updated_at say when a row was inserted and
# last changed, and as_of is the run's clock (truncated to the hour).
UNCOMPARED = {"id", "created_at", "updated_at", "as_of"}
TABLES = {
    "event_analytics": "event_id, period_type, period_start",
    "event_analytics_summary": "event_id",
    "event_analytics_visitor_hours": "1, 2, 3",
    "event_analytics_visitors": "1, 2",
}


@dataclass(frozen=True)
class Generated:
    url: str
    api_url: str
    env: dict[str, str]
    expected: dict[str, list[tuple]]


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every row of the analytics tables, every column but UNCOMPARED."""
    rows = {}
    with psycopg.connect(url) as conn:
        for table, order in TABLES.items():
            columns = [
                name
                for (name,) in conn.execute(
                    "select column_name from information_schema.columns where table_name = %s order by ordinal_position", (table,)
                )
                if name not in UNCOMPARED
            ]
            query = sql.SQL("select {} from {} order by {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table), sql.SQL(order)
            )
            rows[table] = conn.execute(query).fetchall()
    return rows


def reset(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate event_analytics, event_analytics_summary, event_analytics_visitor_hours, event_analytics_visitors, event_analytics_backfills cascade"
        )


def completed_chunks(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from event_analytics_backfill_chunks").fetchone()[0]


def api_post(api_url: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"{api_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def chunk_task_states(api_url: str) -> list[str]:
    """States of the chunk tasks of the latest backfill run that the Prefect server knows of."""
    runs = api_post(
        api_url, "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_DESC", "limit": 1, "flows": {"name": {"any_": ["backfill"]}}}
    )
    tasks = api_post(
        api_url, "/task_runs/filter", {"flow_runs": {"id": {"any_": [runs[0]["id"]]}}, "task_runs": {"name": {"like_": "chunk 20"}}}
    )
    return sorted(task["state"]["type"] for task in tasks)


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("prefect-server")
    with prefect_server(home / "home", home / "server.log") as api_url:
        yield api_url


@pytest.fixture(scope="module")
def generated(server_url: str, template_url: str, prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """`analytics generate` into a fresh database, then the default runner's backfill: the expected rows."""
    name = f"analytics_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(TEMPLATE_DATABASE)))
    url = with_database(server_url, name)
    client_home = tmp_path_factory.mktemp("prefect-client")
    env = clean_environment(DATABASE_URL=url, PREFECT_API_URL=prefect_api, PREFECT_HOME=str(client_home), ANALYTICS_TIMEZONE=ZONE)
    try:
        made = run_cli(["generate", "--rows", "30000", "--days", "14", "--seed", "7", "--end", "2026-09-15T22:00:00Z"], env)
        assert made.returncode == 0, made.stderr
        default = run_cli(BACKFILL, env)
        assert default.returncode == 0, default.stderr
        assert f"{CHUNKS} chunks" in default.stdout
        expected = table_rows(url)
        assert len(expected["event_analytics"]) > 5_000 and len(expected["event_analytics_summary"]) > 150
        yield Generated(url, prefect_api, env, expected)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@dataclass
class Cluster:
    address: str
    client: object  # distributed.Client, to watch the workers
    pids: dict[str, int]  # worker address → process id

    def workers(self) -> dict[str, dict]:
        return self.client.scheduler_info(n_workers=-1)["workers"]


@contextmanager
def dask_cluster(env: dict[str, str], logs: Path, workers: int = 2, scheduler_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """`dask scheduler` and `workers` × `dask worker` (no nanny: a killed worker stays dead), each its own process."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with ExitStack() as stack:
        scheduler = stack.enter_context(
            started(
                ["uv", "run", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                {**env, **(scheduler_env or {})},
                logs / "scheduler.log",
            )
        )
        for n in range(workers):
            stack.enter_context(
                started(
                    ["uv", "run", "dask", "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"worker-{n}"],
                    env,
                    logs / f"worker-{n}.log",
                )
            )
        client = stack.enter_context(Client(address, timeout=120))
        wait_until(
            lambda: len(client.scheduler_info(n_workers=-1)["workers"]) == workers,
            180,
            f"{workers} dask workers (logs in {logs})",
            scheduler,
        )
        yield Cluster(address, client, client.run(os.getpid))


def test_the_flow_and_its_chunk_task_travel_by_reference_however_the_flow_is_loaded() -> None:
    from distributed.protocol import pickle as dask_pickle
    from prefect.flows import load_flow_from_entrypoint

    from flows.backfill import add_progress_listener, backfill, backfill_chunk, recompute_chunk, run_backfill

    # A listener holding a lock, as the CLI's progress bar does: it must not travel with the flow.
    lock = threading.RLock()
    remove = add_progress_listener(lambda done, total, figures: lock.acquire(blocking=False))
    try:
        deployed = load_flow_from_entrypoint(f"{PROJECT_ROOT}/flows/backfill.py:backfill", use_placeholder_flow=False)
        for flow in (backfill, deployed, backfill.with_options(name="backfill")):
            assert dask_pickle.loads(dask_pickle.dumps(flow)).fn is run_backfill
            assert pickle.loads(pickle.dumps(flow.fn)) is run_backfill  # plain pickle: by reference
        assert dask_pickle.loads(dask_pickle.dumps(backfill_chunk)).fn is recompute_chunk
    finally:
        remove()


def test_dask_workers_from_the_cli_give_the_default_runners_rows(generated: Generated) -> None:
    reset(generated.url)
    result = run_cli([*BACKFILL, "--dask-workers", "2"], generated.env)
    assert result.returncode == 0, result.stderr[-5000:]
    assert f"{CHUNKS} chunks (0 resumed)" in result.stdout
    assert table_rows(generated.url) == generated.expected
    # The workers reported to the CLI's Prefect server rather than to servers of their own.
    assert chunk_task_states(generated.api_url) == ["COMPLETED"] * CHUNKS


def test_dask_workers_without_prefect_api_url_report_to_the_commands_local_server(generated: Generated, tmp_path: Path) -> None:
    # No PREFECT_API_URL: the command starts its local Prefect server (under ANALYTICS_HOME) and
    # hands its address to the workers, which must not start servers of their own.
    env = {k: v for k, v in generated.env.items() if k != "PREFECT_API_URL"} | {"ANALYTICS_HOME": str(tmp_path / "home")}
    reset(generated.url)
    try:
        result = run_cli([*BACKFILL, "--dask-workers", "2"], env)
        assert result.returncode == 0, result.stderr[-5000:]
        local_api = run_cli(["prefect", "url", "--api"], env).stdout.strip()
        assert local_api.startswith("http://127.0.0.1:") and local_api != generated.api_url
        assert chunk_task_states(local_api) == ["COMPLETED"] * CHUNKS
        assert table_rows(generated.url) == generated.expected
    finally:
        stopped = run_cli(["prefect", "stop"], env)
        assert stopped.returncode == 0, stopped.stderr


def test_a_scheduler_and_two_worker_processes_give_the_default_runners_rows(generated: Generated, tmp_path: Path) -> None:
    reset(generated.url)
    with dask_cluster(generated.env, tmp_path) as cluster:
        result = run_cli([*BACKFILL, "--dask-address", cluster.address], generated.env)
        assert result.returncode == 0, result.stderr[-5000:]
        executed = cluster.client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert f"{CHUNKS} chunks (0 resumed)" in result.stdout
    assert table_rows(generated.url) == generated.expected
    assert chunk_task_states(generated.api_url) == ["COMPLETED"] * CHUNKS
    assert sum(executed.values()) == CHUNKS and all(executed.values()), executed


def kill_a_busy_worker(cluster: Cluster, backfill: subprocess.Popen, url: str) -> str:
    """Once a chunk is written, SIGKILL a worker while it runs another chunk; return its name."""
    wait_until(lambda: completed_chunks(url) >= 1, 300, "the first chunk", backfill)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        processing = cluster.client.processing()
        busy = [address for address, keys in processing.items() if keys]
        if busy:
            name = cluster.workers()[busy[0]]["name"]
            os.kill(cluster.pids[busy[0]], signal.SIGKILL)
            return name
        time.sleep(0.05)
    raise TimeoutError("no worker was running a chunk")


def test_a_worker_killed_mid_backfill_changes_no_row(generated: Generated, tmp_path: Path) -> None:
    reset(generated.url)
    with dask_cluster(generated.env, tmp_path) as cluster:
        env = generated.env | {"ANALYTICS_DASK_ADDRESS": cluster.address}
        with started(["uv", "run", "analytics", *BACKFILL], env, tmp_path / "backfill.log") as backfill:
            killed = kill_a_busy_worker(cluster, backfill, generated.url)
            backfill.wait(600)
        output = (tmp_path / "backfill.log").read_text()
        assert backfill.returncode == 0, output[-5000:]
        assert len(cluster.workers()) == 1 and killed not in {w["name"] for w in cluster.workers().values()}
    assert f"{CHUNKS} chunks (0 resumed)" in output
    assert table_rows(generated.url) == generated.expected


def test_a_backfill_that_loses_a_chunk_to_a_killed_worker_says_how_to_resume(generated: Generated, tmp_path: Path) -> None:
    reset(generated.url)
    # No second chance on the cluster: the chunk the killed worker ran fails the backfill.
    no_retries = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with dask_cluster(generated.env, tmp_path, scheduler_env=no_retries) as cluster:
        env = generated.env | {"ANALYTICS_DASK_ADDRESS": cluster.address}
        with started(["uv", "run", "analytics", *BACKFILL], env, tmp_path / "backfill.log") as backfill:
            kill_a_busy_worker(cluster, backfill, generated.url)
            backfill.wait(600)
        output = (tmp_path / "backfill.log").read_text()
        assert backfill.returncode == 1, output[-5000:]
        last_line = output.strip().splitlines()[-1]
        assert last_line.startswith("analytics backfill: ") and "run the same command again to resume" in last_line
        assert "a chunk a worker is still running commits when it ends" in last_line
        # A chunk already running on the surviving worker when the command gave up still runs to its
        # commit (Dask cannot stop a running task; its key is only cancelled): count once it is done.
        wait_until(
            lambda: not any(cluster.client.run(lambda dask_worker: len(dask_worker.state.all_running_tasks)).values()),
            120,
            "the workers' running chunks",
        )
        written = completed_chunks(generated.url)
        assert 1 <= written < CHUNKS
        resumed = run_cli(BACKFILL, env)
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    assert f"{CHUNKS} chunks ({written} resumed)" in resumed.stdout
    assert table_rows(generated.url) == generated.expected
