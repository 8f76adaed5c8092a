"""POST /api/events/{id}/analytics/track against a real PostgreSQL: validation, bounds, hostile text,
identity, addresses, and rows committed before the answer."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from service.identity import TOKEN_HEADER, sign_user_token
from tests.service.conftest import USER_AGENTS, make_item


def stored_rows(url: str, item: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            "select id::text, event_type, user_id::text, session_id, referrer, user_agent, host(ip_address) as ip, page_url, metadata, timestamp"
            " from event_analytics_events where event_id = %s order by timestamp",
            (item,),
        )
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_a_view_is_stored_with_the_header_user_agent_and_a_generated_session(client, database_url):
    item = make_item(database_url)
    answer = client.post(
        f"/api/events/{item}/analytics/track",
        json={"event_type": "view", "referrer": "https://www.facebook.com/"},
        headers={"User-Agent": USER_AGENTS[0], "Referer": "https://example-events.com/e/1"},
    )
    assert answer.status_code == 200, answer.text
    reply = answer.json()
    [row] = stored_rows(database_url, item)
    assert reply["success"] is True and reply["id"] == row["id"]
    assert row["event_type"] == "view"
    assert row["user_agent"] == USER_AGENTS[0]
    assert row["referrer"] == "https://www.facebook.com/"
    assert row["page_url"] == "https://example-events.com/e/1"
    assert row["session_id"] == reply["session_id"] and len(row["session_id"]) == 32
    assert row["user_id"] is None
    assert row["metadata"] == {}


def test_the_body_user_agent_and_session_win_and_user_id_in_the_body_is_ignored(client, database_url):
    item = make_item(database_url)
    body = {
        "event_type": "click",
        "session_id": "s-123",
        "user_agent": USER_AGENTS[1],
        "user_id": str(uuid.uuid4()),
        "metadata": {"time_on_page_seconds": 12},
    }
    assert client.post(f"/api/events/{item}/analytics/track", json=body, headers={"User-Agent": USER_AGENTS[2]}).status_code == 200
    [row] = stored_rows(database_url, item)
    assert (row["session_id"], row["user_agent"], row["user_id"]) == ("s-123", USER_AGENTS[1], None)
    assert row["metadata"] == {"time_on_page_seconds": 12}


@pytest.mark.parametrize("event_type", ["view", "click", "share", "favorite", "external_click", "ticket_click"])
def test_each_of_the_six_event_types_is_accepted(client, database_url, event_type):
    item = make_item(database_url)
    assert client.post(f"/api/events/{item}/analytics/track", json={"event_type": event_type}).status_code == 200
    assert [row["event_type"] for row in stored_rows(database_url, item)] == [event_type]


BAD_BODIES = [
    pytest.param(b"", 400, "empty", id="empty"),
    pytest.param(b"{not json", 400, "not valid JSON", id="not-json"),
    pytest.param(b'["view"]', 400, "JSON object", id="array"),
    pytest.param(b'{"event_type": "purchase"}', 400, "event_type", id="unknown-type"),
    pytest.param(b'{"event_type": "VIEW"}', 400, "event_type", id="case"),
    pytest.param(b'{"event_type": null}', 400, "event_type", id="null-type"),
    pytest.param(b'{"session_id": "x"}', 400, "event_type", id="no-type"),
    pytest.param(b'{"event_type": "view", "session_id": 42}', 400, "session_id must be a string", id="session-number"),
    pytest.param(json.dumps({"event_type": "view", "referrer": "x" * 2049}).encode(), 400, "referrer", id="long-referrer"),
    pytest.param(json.dumps({"event_type": "view", "user_agent": "x" * 1025}).encode(), 400, "user_agent", id="long-user-agent"),
    pytest.param(json.dumps({"event_type": "view", "session_id": "x" * 129}).encode(), 400, "session_id", id="long-session"),
    pytest.param(b'{"event_type": "view", "metadata": [1]}', 400, "metadata must be a JSON object", id="metadata-array"),
    pytest.param(b'{"event_type": "view", "metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}}', 400, "deeper", id="metadata-deep"),
    pytest.param(json.dumps({"event_type": "view", "metadata": {f"k{i}": i for i in range(33)}}).encode(), 400, "keys", id="metadata-keys"),
    pytest.param(json.dumps({"event_type": "view", "metadata": {"k": "x" * 4100}}).encode(), 400, "bytes", id="metadata-size"),
    pytest.param(json.dumps({"event_type": "view", "metadata": {"k" * 65: 1}}).encode(), 400, "key", id="metadata-long-key"),
    pytest.param(b'{"event_type": "view", "metadata": {"x": NaN}}', 400, "finite", id="nan"),
    pytest.param(b'{"event_type": "view", "metadata": {"x": 1e999}}', 400, "finite", id="infinite"),
    pytest.param(b"[" * 5000 + b"]" * 5000, 400, "not valid JSON", id="deep-nesting"),
    pytest.param(b'{"event_type": "view", "pad": "' + b"x" * 20_000 + b'"}', 413, "at most", id="too-large"),
    pytest.param(b"\xff\xfe\x00garbage", 400, "not valid JSON", id="bad-bytes"),
]


@pytest.mark.parametrize(("raw", "status", "says"), BAD_BODIES)
def test_bad_bodies_get_a_4xx_with_a_message_and_store_nothing(client, database_url, raw, status, says):
    item = make_item(database_url)
    answer = client.post(f"/api/events/{item}/analytics/track", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
    assert stored_rows(database_url, item) == []


def test_a_malformed_item_id_is_a_400_and_an_unknown_item_a_404(client, database_url):
    answer = client.post("/api/events/not-a-uuid/analytics/track", json={"event_type": "view"})
    assert answer.status_code == 400 and "not a UUID" in answer.json()["error"]
    unknown = str(uuid.uuid4())
    answer = client.post(f"/api/events/{unknown}/analytics/track", json={"event_type": "view"})
    assert answer.status_code == 404 and unknown in answer.json()["error"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from event_analytics_events").fetchone()[0] == 0


def test_nuls_and_lone_surrogates_are_stripped_not_refused(client, database_url):
    item = make_item(database_url)
    raw = b'{"event_type": "view", "referrer": "https://a\\u0000b.com/\\ud800x", "session_id": "s\\u0000", "metadata": {"k\\u0000": "v\\u0000\\udfff", "n": [1, "\\u0000"]}}'
    answer = client.post(f"/api/events/{item}/analytics/track", content=raw, headers={"User-Agent": "Mozilla/5.0\x7f"})
    assert answer.status_code == 200, answer.text
    [row] = stored_rows(database_url, item)
    assert row["referrer"] == "https://ab.com/x"
    assert row["session_id"] == "s"
    assert row["metadata"] == {"k": "v", "n": [1, ""]}


def test_user_id_comes_only_from_a_valid_signed_token(client_factory, database_url):
    client = client_factory(user_token_secret="s3cret")
    item, user = make_item(database_url), str(uuid.uuid4())
    token = sign_user_token(user, "s3cret", int(time.time()) + 600)
    assert client.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={TOKEN_HEADER: token}).status_code == 200
    forged = sign_user_token(user, "other", int(time.time()) + 600)
    refused = client.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={TOKEN_HEADER: forged})
    assert refused.status_code == 401 and "signature" in refused.json()["error"]
    expired = sign_user_token(user, "s3cret", int(time.time()) - 1)
    assert (
        client.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={TOKEN_HEADER: expired}).status_code == 401
    )
    assert client.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}).status_code == 200
    assert [row["user_id"] for row in stored_rows(database_url, item)] == [user, None]


def test_a_user_header_counts_only_when_a_gateway_is_configured(client_factory, database_url):
    item, user = make_item(database_url), str(uuid.uuid4())
    plain = client_factory()
    assert plain.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={"X-User-Id": user}).status_code == 200
    gateway = client_factory(trusted_user_header="x-user-id")
    assert gateway.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={"X-User-Id": user}).status_code == 200
    assert (
        gateway.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={"X-User-Id": "admin"}).status_code == 400
    )
    assert [row["user_id"] for row in stored_rows(database_url, item)] == [None, user]


def test_the_forwarded_address_counts_only_behind_a_configured_proxy(client_factory, database_url):
    item = make_item(database_url)
    headers = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    assert client_factory().post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers=headers).status_code == 200
    proxied = client_factory(trusted_proxy_header="x-forwarded-for")
    assert proxied.post(f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers=headers).status_code == 200
    assert (
        proxied.post(
            f"/api/events/{item}/analytics/track", json={"event_type": "view"}, headers={"X-Forwarded-For": "not-an-ip"}
        ).status_code
        == 200
    )
    # TestClient's peer is "testclient", not an address: stored as NULL rather than refused.
    assert [row["ip"] for row in stored_rows(database_url, item)] == [None, "198.51.100.7", None]


def test_concurrent_requests_are_batched_and_each_acknowledged_row_is_stored(client, database_url):
    items = [make_item(database_url) for _ in range(3)]

    def send(n: int) -> str:
        answer = client.post(
            f"/api/events/{items[n % 3]}/analytics/track",
            json={"event_type": "view", "session_id": f"s{n}"},
            headers={"User-Agent": USER_AGENTS[n % 4]},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        acknowledged = set(pool.map(send, range(300)))
    with psycopg.connect(database_url) as conn:
        stored = {row[0] for row in conn.execute("select id::text from event_analytics_events")}
    assert stored == acknowledged and len(stored) == 300
