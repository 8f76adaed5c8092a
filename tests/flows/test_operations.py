"""The `analytics` program as an operator runs it, in real subprocesses: one local Prefect server
started on first use and reused, `prefect url` and `prefect stop`, a stale pid file, and Ctrl-C,
SIGTERM and kill -9 during a backfill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest

from data.sample import generate_sample
from flows.orchestrator import stop_local_server
from flows.settings import Settings
from tests.flows.test_backfill import reset, rows_of

ANALYTICS = str(Path(sys.executable).parent / "analytics")
REPO = Path(__file__).resolve().parents[2]
# Long enough for one command under load; a hang fails the test instead of blocking the run.
COMMAND_TIMEOUT = 600
# Ctrl-C must end a command within seconds; this bound leaves room for a loaded machine.
INTERRUPT_BOUND_SECONDS = 15
# One-day chunks: 30 of them, so that an interruption lands between chunks.
BACKFILL = ["backfill", "--start", "2026-10-02", "--end", "2026-11-01", "--chunk", "1d"]


def cli_env(home: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env["ANALYTICS_HOME"] = str(home)
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANALYTICS, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def recorded_server(home: Path) -> dict | None:
    path = home / "prefect" / "server.json"
    return json.loads(path.read_text()) if path.exists() else None


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def servers_of(home: Path) -> list[psutil.Process]:
    """Prefect server processes running with their files under home (their working directory)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline, cwd = process.info["cmdline"] or [], process.info["cwd"] or ""
        if "prefect" in " ".join(cmdline) and "server" in cmdline and cwd == str(home / "prefect") and is_running(process.pid):
            found.append(process)
    return found


def flow_run_names(api_url: str) -> list[str]:
    request = urllib.request.Request(f"{api_url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return [run["name"] for run in json.loads(response.read())]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """An ANALYTICS_HOME whose local Prefect server, if a test leaves one running, is stopped afterwards."""
    path = tmp_path / "home"
    yield path
    stop_local_server(Settings(home=path))


@pytest.fixture
def hourly_data(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=5_000, days=2, seed=3, end=datetime(2026, 10, 27, tzinfo=UTC), items=20)
    return database_url


def test_the_first_flow_command_starts_a_local_server_and_the_next_reuses_it(hourly_data: str, home: Path) -> None:
    env = cli_env(home, hourly_data)
    first = run_cli("run", "hourly", "--as-of", "2026-10-26T11:05:00Z", env=env)
    assert first.returncode == 0, first.stderr
    for noise in ("Starting temporary server", "telemetry", "Traceback"):
        assert noise not in first.stderr, first.stderr
    started = recorded_server(home)
    assert started is not None and is_running(started["pid"])

    second = run_cli("run", "hourly", "--as-of", "2026-10-26T12:05:00Z", env=env)
    assert second.returncode == 0, second.stderr
    assert recorded_server(home) == started  # same pid, same port: not started again
    assert [server.pid for server in servers_of(home)] == [started["pid"]]

    url = run_cli("prefect", "url", env=env)
    assert url.returncode == 0 and url.stdout.strip() == f"http://127.0.0.1:{started['port']}"
    assert sorted(flow_run_names(started["api_url"])) == ["hourly 2026-10-26 07:00 → 11:00 UTC", "hourly 2026-10-26 08:00 → 12:00 UTC"]

    stopped = run_cli("prefect", "stop", env=env)
    assert stopped.returncode == 0 and f"pid {started['pid']}" in stopped.stdout
    assert not is_running(started["pid"]) and servers_of(home) == []
    assert recorded_server(home) is None
    again = run_cli("prefect", "stop", env=env)
    assert again.returncode == 0 and "was not running" in again.stdout


def test_a_stale_pid_file_is_replaced_and_concurrent_first_commands_start_one_server(home: Path) -> None:
    (home / "prefect").mkdir(parents=True)
    # After kill -9 or a reboot the recorded pid is gone, or belongs to another process now.
    gone = subprocess.Popen(["true"])
    gone.wait()
    for stale_pid in (gone.pid, os.getpid()):
        (home / "prefect" / "server.json").write_text(
            json.dumps({"pid": stale_pid, "port": 9, "created": 0.0, "api_url": "http://127.0.0.1:9/api"})
        )
        env = cli_env(home)
        commands = [
            subprocess.Popen([ANALYTICS, "prefect", "url"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [command.communicate(timeout=COMMAND_TIMEOUT) for command in commands]
        assert [command.returncode for command in commands] == [0, 0], outputs
        started = recorded_server(home)
        assert started["pid"] not in (gone.pid, os.getpid())
        assert {out.strip() for out, _ in outputs} == {f"http://127.0.0.1:{started['port']}"}
        assert [server.pid for server in servers_of(home)] == [started["pid"]]
        assert run_cli("prefect", "stop", env=env).returncode == 0
        assert servers_of(home) == []
    assert is_running(os.getpid())


@pytest.mark.parametrize("where", ["environment", "profile"])
def test_an_unreachable_prefect_api_url_fails_in_one_line(hourly_data: str, home: Path, tmp_path: Path, where: str) -> None:
    if where == "environment":
        env = cli_env(home, hourly_data, PREFECT_API_URL="http://127.0.0.1:9/api")
    else:
        # As `prefect config set PREFECT_API_URL=…` leaves it.
        (tmp_path / "prefect-home").mkdir()
        (tmp_path / "prefect-home" / "profiles.toml").write_text(
            'active = "local"\n\n[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n'
        )
        env = cli_env(home, hourly_data, PREFECT_HOME=str(tmp_path / "prefect-home"))
    result = run_cli("run", "hourly", env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "=http://127.0.0.1:9/api does not answer" in result.stderr
    assert not (home / "prefect").exists()


# --- interrupting a backfill ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home whose local Prefect server runs for this module's interruption tests."""
    home = tmp_path_factory.mktemp("home")
    started = run_cli("prefect", "url", env=cli_env(home))
    assert started.returncode == 0, started.stderr
    yield home
    stop_local_server(Settings(home=home))


@pytest.fixture
def backfill_data(database_url: str) -> str:
    """30 local days of raw rows: 30 one-day chunks, each long enough to interrupt in flight."""
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=60_000, days=30, seed=9, end=datetime(2026, 11, 1, tzinfo=UTC), items=100)
    return database_url


def chunks_done(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from event_analytics_backfill_chunks").fetchone()[0]


def start_backfill_and_wait_for_chunks(url: str, env: dict[str, str], chunks: int) -> subprocess.Popen[str]:
    # Its own process group, as a terminal gives a foreground command: Ctrl-C signals the whole group.
    command = subprocess.Popen(
        [ANALYTICS, *BACKFILL], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while chunks_done(url) < chunks:
        assert command.poll() is None, command.communicate()
        assert time.monotonic() < deadline, "the backfill wrote no chunks"
        time.sleep(0.2)
    return command


def own_processes(command: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(command.pid).children(recursive=True)


def backends_of(url: str) -> int:
    """Connections of this program still open on the test database (a chunk in flight, not rolled back yet)."""
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where datname = %s and application_name = 'event-analytics' and pid <> pg_backend_pid()",
            (database,),
        ).fetchone()[0]


def wait_for_no_backends(url: str) -> None:
    deadline = time.monotonic() + 120
    while backends_of(url):
        assert time.monotonic() < deadline, "connections of the interrupted command stay open"
        time.sleep(0.5)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_backfill_stops_within_seconds_and_the_same_command_resumes_to_exact_rows(
    backfill_data: str, shared_home: Path, signum: int, code: int
) -> None:
    env = cli_env(shared_home, backfill_data)
    server = recorded_server(shared_home)
    command = start_backfill_and_wait_for_chunks(backfill_data, env, 2)
    children = own_processes(command)
    os.killpg(command.pid, signum)
    try:
        out, err = command.communicate(timeout=INTERRUPT_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        command.kill()
        pytest.fail(f"the backfill was still running {INTERRUPT_BOUND_SECONDS} s after {signal.Signals(signum).name}")
    assert command.returncode == code, err
    assert (
        err.strip().splitlines()[-1]
        == "analytics backfill: interrupted; run the same command again to resume: chunks already written are kept and skipped"
    )
    assert "Traceback" not in err
    assert not [child for child in children if is_running(child.pid)]
    assert recorded_server(shared_home) == server and is_running(server["pid"])  # the shared server is not hit
    wait_for_no_backends(backfill_data)
    interrupted_at = chunks_done(backfill_data)
    assert 2 <= interrupted_at < 30

    resumed = run_cli(*BACKFILL, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"30 chunks ({interrupted_at} resumed)" in resumed.stdout
    after_resume = rows_of(backfill_data)

    reset(backfill_data)
    uninterrupted = run_cli(*BACKFILL, env=env)
    assert uninterrupted.returncode == 0 and "30 chunks (0 resumed)" in uninterrupted.stdout
    assert after_resume == rows_of(backfill_data)


def test_kill_9_of_a_backfill_leaves_no_process_but_the_persistent_servers(backfill_data: str, shared_home: Path) -> None:
    env = cli_env(shared_home, backfill_data)
    server = recorded_server(shared_home)
    command = start_backfill_and_wait_for_chunks(backfill_data, env, 1)
    children = own_processes(command)
    os.kill(command.pid, signal.SIGKILL)
    command.communicate(timeout=INTERRUPT_BOUND_SECONDS)
    assert not [child for child in children if is_running(child.pid)]
    assert [process.pid for process in servers_of(shared_home)] == [server["pid"]]
    wait_for_no_backends(backfill_data)
    resumed = run_cli(*BACKFILL, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed)" in resumed.stdout and "(0 resumed)" not in resumed.stdout
