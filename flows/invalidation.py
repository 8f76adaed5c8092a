"""Cache invalidation after analytics writes: the items a transaction touched are announced at its
commit (NOTIFY), dropped from Redis right after it, and every live service is waited for until it
has dropped them too, so that once a flow returns no cache serves figures older than its commit."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg

from flows.sql import load_sql

CHANNEL = "analytics_invalidate"
ACK_CHANNEL = "analytics_invalidated"
SERVICE_APPLICATION_PREFIX = "analytics-serve:"
# 200 ids of 36 characters plus spaces stay under NOTIFY's 8000-byte payload limit.
ITEMS_PER_PAYLOAD = 200
# How long a flow waits for the live services to confirm; a service that has not confirmed by then
# is reported and may serve older figures until its entries expire (docs/serving.md).
ACK_WAIT_SECONDS = 5.0

log = logging.getLogger(__name__)


def item_payloads(items: Sequence[str]) -> list[str]:
    """NOTIFY payloads naming `items`: 'items <id> <id> …', each under the size limit."""
    return ["items " + " ".join(items[i : i + ITEMS_PER_PAYLOAD]) for i in range(0, len(items), ITEMS_PER_PAYLOAD)]


def redis_prefix(database_name: str) -> str:
    """Key prefix of one database's entries, so that databases sharing a Redis never mix."""
    return f"analytics:{database_name}:"


def redis_generation_key(prefix: str, item: str) -> str:
    return f"{prefix}gen:{item}"


def redis_item_key(prefix: str, item: str) -> str:
    return f"{prefix}item:{item}"


def redis_epoch_key(prefix: str) -> str:
    return f"{prefix}epoch"


def drop_from_redis(redis_url: str, database_name: str, items: Sequence[str]) -> None:
    """Delete the items' cached entries and move their generation on, so that a read that was in
    flight during the commit cannot store the figures it read before it."""
    import redis

    prefix = redis_prefix(database_name)
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        with client.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.incr(redis_generation_key(prefix, item))
                pipe.delete(redis_item_key(prefix, item))
            pipe.execute()
    finally:
        client.close()


def wait_for_services(conn: psycopg.Connection, timeout: float | None = None) -> list[str]:
    """Ping every live service after a commit and wait until each has answered; return those that did not.

    Notifications reach a listener in commit order, so a service that answers the ping has handled
    every invalidation committed before it; a service that started listening after the commit
    started with an empty cache.
    """
    timeout = ACK_WAIT_SECONDS if timeout is None else timeout
    token = uuid.uuid4().hex
    conn.execute(f"listen {ACK_CHANNEL}")
    try:
        waiting = {row[0].removeprefix(SERVICE_APPLICATION_PREFIX) for row in conn.execute(load_sql("read_live_services"))}
        if not waiting:
            return []
        conn.execute(load_sql("notify_channel"), {"channel": CHANNEL, "payloads": [f"ping {token}"]})
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for note in conn.notifies(timeout=max(0.0, deadline - time.monotonic()), stop_after=1):
                answered_token, _, service = note.payload.partition(" ")
                if answered_token == token:
                    waiting.discard(service)
        return sorted(waiting)
    finally:
        conn.execute(f"unlisten {ACK_CHANNEL}")


def _redis_url() -> str | None:
    from flows.settings import load_settings

    return load_settings().redis_url


@contextmanager
def invalidating_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """A transaction whose touched items are announced at commit, then dropped from Redis and
    confirmed by the live services before the caller goes on (nothing happens on rollback)."""
    with conn.transaction():
        conn.execute(load_sql("create_touched_items"))
        yield
        items = [row[0] for row in conn.execute(load_sql("read_touched_items"))]
        if items:
            conn.execute(load_sql("notify_channel"), {"channel": CHANNEL, "payloads": item_payloads(items)})
    if not items or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        # Nothing touched, or this was a savepoint: the outer commit delivers the notification.
        return
    redis_url = _redis_url()
    if redis_url:
        try:
            drop_from_redis(redis_url, conn.info.dbname, items)
        except Exception as exc:  # the services drop them too when they get the notification
            log.warning(
                "cache invalidation: Redis did not take the invalidation of %d items (%s); the services drop them on notification",
                len(items),
                type(exc).__name__,
            )
    try:
        silent = wait_for_services(conn)
    except psycopg.Error as exc:  # the figures are committed: a lost confirmation must not fail the flow
        log.warning(
            "cache invalidation: could not confirm with the services (%s); they drop the items when the notification reaches them",
            type(exc).__name__,
        )
        return
    if silent:
        log.warning(
            "cache invalidation: %d service(s) did not confirm within %.0f s (%s); they may serve older figures until their entries expire",
            len(silent),
            ACK_WAIT_SECONDS,
            ", ".join(silent),
        )
