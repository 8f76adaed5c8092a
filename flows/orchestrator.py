"""The Prefect API the flows report to: PREFECT_API_URL's server, else one local server kept running.

The local server is started on first use, like the embedded PostgreSQL: detached in its own
session (Ctrl-C on a command does not reach it), with its database, pid file and log under
`<ANALYTICS_HOME>/prefect/`, and reused by every later command until `analytics prefect stop`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from flows.settings import Settings

# Start-up takes 10-25 s on two busy cores; allow for a loaded machine before giving up.
STARTUP_TIMEOUT_SECONDS = 180
STOP_TIMEOUT_SECONDS = 20
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "server.log"

# Telemetry off: without internet the server logs an ERROR for every failed heartbeat.
SERVER_ENVIRONMENT = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
}


class OrchestratorError(RuntimeError):
    """The Prefect API cannot be reached or started; the message says what to do."""


@dataclass(frozen=True)
class LocalServer:
    """A running local Prefect server, as recorded in its state file."""

    pid: int
    port: int
    created: float

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def server_directory(settings: Settings) -> Path:
    """Where the local server keeps its database (PREFECT_HOME), state file and log."""
    return settings.home / "prefect"


def api_answers(api_url: str, timeout: float = 3.0, *, use_proxies: bool = True) -> bool:
    """Whether a Prefect API answers its health check at api_url."""
    opener = urllib.request.build_opener() if use_proxies else urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ui_url_of(api_url: str) -> str:
    """The UI's address for an API URL (the UI is served one level up from /api)."""
    return api_url.rstrip("/").removesuffix("/api")


def ensure_prefect_api(settings: Settings, environ: MutableMapping[str, str] | None = None) -> str:
    """The API URL flows report to, after making sure it answers; sets PREFECT_API_URL for this process."""
    from flows.database import mask_url

    env = os.environ if environ is None else environ
    explicit, source = configured_api_url(env)
    if explicit:
        if not api_answers(explicit):
            raise OrchestratorError(
                f"the Prefect API at {source}={mask_url(explicit)} does not answer; "
                "start that server, or unset PREFECT_API_URL to use a local one started on demand"
            )
        return explicit
    if "prefect.settings" in sys.modules:
        # Prefect is loaded and configured in this process already (a test harness, or code that
        # set its API): that server wins, and no local one is started beside it.
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return str(PREFECT_API_URL.value())
    server = start_local_server(settings)
    env["PREFECT_API_URL"] = server.api_url
    # Prefect reads its settings once, when prefect.context is first imported; if that has
    # happened already, rebuild them so that no flow falls back to a temporary server.
    context = sys.modules.get("prefect.context")
    if context is not None and env is os.environ:
        context.refresh_global_settings_context()
    return server.api_url


def configured_api_url(env: Mapping[str, str]) -> tuple[str | None, str]:
    """PREFECT_API_URL from the environment, else from the active Prefect profile (`prefect config set`), and where it came from.

    Read here rather than through Prefect's settings: importing Prefect takes seconds, and
    `analytics prefect url` should not.
    """
    if env.get("PREFECT_API_URL"):
        return env["PREFECT_API_URL"], "PREFECT_API_URL"
    prefect_home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles_path = Path(env.get("PREFECT_PROFILES_PATH") or prefect_home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(profiles_path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None, ""
    active = env.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    url = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return (str(url), f"PREFECT_API_URL of Prefect profile {active!r} ({profiles_path})") if url else (None, "")


def start_local_server(settings: Settings) -> LocalServer:
    """The local server of settings.home, started if it is not running (one at a time, under a file lock)."""
    directory = server_directory(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / LOCK_FILE):
        running = _recorded_server(directory)
        if running is not None:
            _wait_until_answering(running, directory, process=None)
            return running
        return _spawn_server(directory)


def stop_local_server(settings: Settings) -> LocalServer | None:
    """Stop the local server of settings.home and everything it started; return it, or None if none ran."""
    directory = server_directory(settings)
    if not directory.exists():
        return None
    with _locked(directory / LOCK_FILE):
        server = _recorded_server(directory)
        if server is None:
            return None
        _terminate_group(server.pid)
        (directory / STATE_FILE).unlink(missing_ok=True)
        return server


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on path, released when the holder ends (even by kill -9)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recorded_server(directory: Path) -> LocalServer | None:
    """The server the state file names if that very process still runs; a stale file is removed."""
    state_path = directory / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
        server = LocalServer(pid=int(state["pid"]), port=int(state["port"]), created=float(state["created"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        state_path.unlink(missing_ok=True)
        return None
    try:
        # After a reboot or kill -9 the pid may be gone, or reused by an unrelated process.
        alive = abs(psutil.Process(server.pid).create_time() - server.created) < 1.0
    except psutil.Error:
        alive = False
    if not alive:
        state_path.unlink(missing_ok=True)
        return None
    return server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn_server(directory: Path) -> LocalServer:
    port = _free_port()
    env = {**os.environ, **SERVER_ENVIRONMENT, "PREFECT_HOME": str(directory)}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"]
    with open(directory / LOG_FILE, "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting on port {port}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    server = LocalServer(pid=process.pid, port=port, created=psutil.Process(process.pid).create_time())
    state = directory / STATE_FILE
    staged = state.with_suffix(".tmp")
    staged.write_text(json.dumps({"pid": server.pid, "port": server.port, "created": server.created, "api_url": server.api_url}))
    staged.replace(state)
    try:
        _wait_until_answering(server, directory, process)
    except BaseException:
        # A Ctrl-C or a failed start must not leave a half-started server behind.
        _terminate_group(server.pid)
        state.unlink(missing_ok=True)
        raise
    return server


def _wait_until_answering(server: LocalServer, directory: Path, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not api_answers(server.api_url, timeout=2.0, use_proxies=False):
        exited = process.poll() is not None if process is not None else not psutil.pid_exists(server.pid)
        if exited:
            raise OrchestratorError(
                f"the local Prefect server stopped while starting: {_last_log_line(directory)}; its log is {directory / LOG_FILE}"
            )
        if time.monotonic() > deadline:
            raise OrchestratorError(
                f"the local Prefect server (pid {server.pid}) did not answer within {STARTUP_TIMEOUT_SECONDS} s; "
                f"see {directory / LOG_FILE}, then run `analytics prefect stop` and try again"
            )
        time.sleep(0.25)


def _terminate_group(pid: int) -> None:
    """SIGTERM the server's process group (its own session), then SIGKILL what is left."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    if group != pid:
        # Not a group leader of its own: signal that process only, never someone else's group.
        group = None
    members = _group_members(pid, group)
    for member in members:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(members, timeout=STOP_TIMEOUT_SECONDS)
    for member in alive:
        try:
            member.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


def _group_members(pid: int, group: int | None) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if process.pid == pid or (group is not None and os.getpgid(process.pid) == group):
                members.append(process)
        except (psutil.Error, ProcessLookupError):
            continue
    return members


def _last_log_line(directory: Path) -> str:
    try:
        lines = [line.strip() for line in (directory / LOG_FILE).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1][:300] if lines else "no output"
