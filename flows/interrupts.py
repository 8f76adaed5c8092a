"""Ctrl-C and SIGTERM: stop a command within seconds, mark its Prefect run, say how to resume.

The process ends with os._exit rather than by unwinding: unwinding waits for the chunk threads
of a backfill to finish their chunk (the thread pool joins them), which can take minutes. Ending
the process closes their database connections, and a chunk in flight is one transaction, so
PostgreSQL rolls it back; the chunks already written stay recorded and the same command resumes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType

# What the same command does when run again, by command.
RESUME_HINTS = {
    "backfill": "run the same command again to resume: chunks already written are kept and skipped",
    "demo": "run `analytics demo` again to finish: it reuses the data already there",
    "retention": "run the same command again to resume: months already archived and deleted are done",
}
DEFAULT_HINT = "run the same command again: a window is written whole or not at all, so nothing is half-written"
# The main thread normally handles the signal at once; it may be inside one long C call (a
# Polars computation), so a watcher thread ends the process itself after this long.
FALLBACK_SECONDS = 3.0
# Marking the Prefect run as cancelled is a courtesy; it never delays the exit longer than this.
CLEANUP_SECONDS = 4.0
HANDLED = (signal.SIGINT, signal.SIGTERM)

_stopping = threading.Lock()
_received: list[int] = []


def exit_promptly_on_signals(command: str) -> None:
    """From now on, SIGINT or SIGTERM ends this process within seconds with exit code 128 + the signal."""
    message = f"analytics {command}: interrupted; {RESUME_HINTS.get(command, DEFAULT_HINT)}"

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _stop(_received[0] if _received else signum, message, _current_flow_run_id())

    for signum in HANDLED:
        signal.signal(signum, on_signal)
    # The C-level handler writes each signal's number to this pipe at once, whatever the main
    # thread is doing and whichever Python handler is installed (a Prefect flow run installs its
    # own for SIGTERM), so the watcher always sees it.
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_end, message), name="analytics-signals", daemon=True).start()


def _watch(read_end: int, message: str) -> None:
    while True:
        data = os.read(read_end, 1)
        if not data:
            return
        if data[0] in HANDLED:
            break
    signum = data[0]
    _received.append(signum)
    if signum == signal.SIGTERM:
        # During a flow run Prefect's SIGTERM handler would unwind the run (and wait for chunk
        # threads); a SIGINT reaches ours, which runs first because it has the lower number.
        os.kill(os.getpid(), signal.SIGINT)
    time.sleep(FALLBACK_SECONDS)
    _stop(signum, message, None)


def _stop(signum: int, message: str, flow_run_id: object | None) -> None:
    if not _stopping.acquire(blocking=False):
        if threading.current_thread() is threading.main_thread():
            threading.Event().wait()  # the other stopper is ending the process
        return
    code = 128 + signum
    # Threads still running would log their chunk's interruption after the one line that matters.
    logging.disable(logging.CRITICAL)
    watchdog = threading.Timer(CLEANUP_SECONDS, os._exit, (code,))
    watchdog.daemon = True
    watchdog.start()
    if sys.stdout.isatty():
        # A progress bar hides the cursor; give it back, and end its line.
        sys.stdout.write("\x1b[?25h\n")
    sys.stdout.flush()
    print(message, file=sys.stderr, flush=True)
    if flow_run_id is not None:
        try:
            _mark_cancelled(flow_run_id, signal.Signals(signum).name)
        except Exception:  # the exit must not wait on the API
            pass
    os._exit(code)


def _current_flow_run_id() -> object | None:
    context = sys.modules.get("prefect.context")
    if context is None:
        return None
    run_context = context.FlowRunContext.get()
    return run_context.flow_run.id if run_context is not None and run_context.flow_run is not None else None


def _mark_cancelled(flow_run_id: object, signal_name: str) -> None:
    """Set the flow run and its unfinished task runs to Cancelled, so the UI does not show them running."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterState, TaskRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    message = f"interrupted by {signal_name} in the terminal; run the same command again to resume"
    unfinished = TaskRunFilter(
        state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED]))
    )
    with get_client(sync_client=True) as client:
        for task_run in client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), task_run_filter=unfinished
        ):
            client.set_task_run_state(task_run.id, Cancelled(message=message), force=True)
        client.set_flow_run_state(flow_run_id, Cancelled(message=message), force=True)
