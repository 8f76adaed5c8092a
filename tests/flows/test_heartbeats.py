"""A flow run still sends its heartbeat when the engine no longer waits for the heartbeat thread (flows/heartbeats.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.runs import hourly
from tests.flows.processes import wait_until

AS_OF = datetime(2026, 10, 26, 11, 5, tzinfo=UTC)


def heartbeats_of(flow_run_id) -> list:
    """The heartbeat events the Prefect API holds for one flow run (persisted a moment after they are sent)."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    wanted = EventFilter(
        event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
        resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    with get_client(sync_client=True) as client:
        # limit: the client defaults to 100, which the server refuses (at most 50).
        return list(client.read_events(filter=wanted, limit=50).events)


@pytest.mark.usefixtures("prefect_server", "database_url")
def test_with_the_engine_not_joining_its_heartbeat_thread_a_flow_run_still_sends_its_heartbeat() -> None:
    import prefect.flow_engine

    # In place once a module defining flows is imported, for every flow it runs.
    assert getattr(prefect.flow_engine._send_heartbeats, "ends_with_flow", False)

    state = hourly(as_of=AS_OF, lookback_hours=1, return_state=True)
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id

    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()
    wait_until(lambda: bool(heartbeats_of(flow_run_id)), 60, "the flow run's heartbeat in the Prefect API")
    beats = heartbeats_of(flow_run_id)
    assert beats, "the flow run sent no heartbeat"
    assert {beat.resource.id for beat in beats} == {f"prefect.flow-run.{flow_run_id}"}
    # The heartbeat names the flow, as Prefect's own does, so automations keyed on it still match.
    assert any(related.role == "flow" for beat in beats for related in beat.related)
