"""Flow-run heartbeats that stop with the flow run, without holding the command up.

Prefect's synchronous flow engine sends a flow run's heartbeats from a daemon thread that sleeps in
1-second steps, and joins that thread when the flow ends: every command, hourly run and backfill
waited 0 to 1 s (half a second on average) after its work was done, with nothing running
(bench/README.md, tenth pass). Prefect's asynchronous engine runs the same heartbeat context with
`join_on_exit=False`; `end_heartbeats_with_flow` makes the synchronous engine do the same. The
heartbeats themselves are unchanged: the first when the flow starts, then every
PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds, none once the run is final (the thread stops at its next
step, and as a daemon thread it never holds the process), so automations that mark runs without
heartbeats as crashed still see them (tests/flows/test_heartbeats.py reads them back).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def end_heartbeats_with_flow() -> None:
    """Make Prefect's synchronous flow engine stop waiting for its heartbeat thread when a flow
    ends; idempotent. A Prefect whose heartbeat context takes no `join_on_exit` is left as it is."""
    import prefect.flow_engine as engine

    current = engine._send_heartbeats
    if getattr(current, "ends_with_flow", False) or "join_on_exit" not in inspect.signature(current).parameters:
        return

    @contextmanager
    def send_heartbeats(flow_engine: Any, join_on_exit: bool = True) -> Iterator[None]:
        with current(flow_engine, join_on_exit=False):
            yield

    send_heartbeats.ends_with_flow = True  # type: ignore[attr-defined]
    engine._send_heartbeats = send_heartbeats
