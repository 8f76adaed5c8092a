"""Nothing acknowledged is lost: `analytics serve` is SIGKILLed while clients are tracking, and every
row it acknowledged is in the table."""

from __future__ import annotations

import signal
import threading

import httpx
import psycopg

from tests.service.conftest import USER_AGENTS, make_item

CLIENTS = 8
KILL_AFTER = 400


def test_every_acknowledged_row_survives_a_sigkill_mid_load(database_url, serve_factory):
    items = [make_item(database_url) for _ in range(4)]
    service = serve_factory()
    acknowledged: list[str] = []
    refused: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=service.base_url, timeout=10) as http:
            for k in range(5000):  # bounded; the kill ends it long before
                try:
                    answer = http.post(
                        f"/api/events/{items[k % 4]}/analytics/track",
                        json={"event_type": "view", "session_id": f"c{n}-{k}"},
                        headers={"User-Agent": USER_AGENTS[k % 4]},
                    )
                except httpx.HTTPError:
                    return  # the service is gone: this request was never acknowledged
                with lock:
                    if answer.status_code == 200:
                        acknowledged.append(answer.json()["id"])
                        if len(acknowledged) >= KILL_AFTER:
                            enough.set()
                    else:
                        refused.append(answer.status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=300), f"only {len(acknowledged)} rows acknowledged"
    service.process.send_signal(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=60)
    service.process.wait(timeout=30)

    with psycopg.connect(database_url) as conn:
        stored = {row[0] for row in conn.execute("select id::text from event_analytics_events")}
    assert refused == []
    assert len(acknowledged) >= KILL_AFTER
    assert set(acknowledged) <= stored  # rows in flight when it died may be stored unacknowledged
