"""Services a test starts as separate processes from the project's environment, and stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without Prefect or Dask settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DASK_", "ANALYTICS_DASK"))}
    env.update(overrides)
    return env


def wait_until(ready: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it was ready")
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group the process leads (uv run and its child), then SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    else:
        # The leader is gone; children it left in its group go too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def started(argv: Sequence[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `argv` in its own process group from the project root, output to `log`; stop it on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), cwd=PROJECT_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process)


@contextmanager
def prefect_server(home: Path, log: Path) -> Iterator[str]:
    """A real `prefect server start` with its own PREFECT_HOME; yields its API URL."""
    port = free_port()
    env = clean_environment(PREFECT_HOME=str(home), PREFECT_SERVER_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    argv = ["uv", "run", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with started(argv, env, log) as process:
        api_url = f"http://127.0.0.1:{port}/api"

        def healthy() -> bool:
            with urllib.request.urlopen(f"{api_url}/health", timeout=5) as response:
                return response.status == 200

        wait_until(healthy, 240, f"prefect server (log: {log})", process)
        yield api_url


def run_cli(args: Sequence[str], env: Mapping[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`uv run analytics …` as a user runs it."""
    return subprocess.run(
        ["uv", "run", "analytics", *args], cwd=PROJECT_ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
