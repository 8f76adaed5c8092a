"""Read caches (in-process or Redis) whose entries carry the generation they were read under, and the
listener that moves generations on when a flow's commit announces the items it touched.

A read notes the item's generation before it queries the database and stores its answer under that
generation; an invalidation moves the generation on, so an answer read before a commit can never be
served after it, even when it is stored after the invalidation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import psycopg

from flows.invalidation import (
    ACK_CHANNEL,
    CHANNEL,
    SERVICE_APPLICATION_PREFIX,
    redis_epoch_key,
    redis_generation_key,
    redis_item_key,
    redis_prefix,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """A cached answer: its body and ETag."""

    body: bytes
    etag: str


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


class MemoryCache:
    """Entries in this process, bounded (least recently used first out)."""

    kind = "memory"

    def __init__(self, max_entries: int, ttl_seconds: int) -> None:
        self.max_entries = max_entries
        self.ttl = ttl_seconds
        self.epoch = 0
        self.generations: dict[str, int] = {}
        self.entries: OrderedDict[tuple[str, str], tuple[tuple[int, int], float, Entry]] = OrderedDict()

    async def lookup(self, item: str, field: str) -> tuple[Entry | None, tuple[int, int]]:
        """The entry when it is current, and the generation a fresh read must be stored under."""
        tag = (self.epoch, self.generations.get(item, 0))
        found = self.entries.get((item, field))
        if found is not None and found[0] == tag and found[1] > time.time():
            self.entries.move_to_end((item, field))
            return found[2], tag
        return None, tag

    async def store(self, item: str, field: str, tag: tuple[int, int], entry: Entry, expires_at: float | None = None) -> None:
        if tag != (self.epoch, self.generations.get(item, 0)):
            return  # invalidated while the database was read
        self.entries[(item, field)] = (tag, min(expires_at or float("inf"), time.time() + self.ttl), entry)
        self.entries.move_to_end((item, field))
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    async def invalidate(self, items: list[str]) -> None:
        # The items' entries become unreachable (their tag no longer matches) and age out of the LRU.
        for item in items:
            self.generations[item] = self.generations.get(item, 0) + 1

    async def invalidate_all(self) -> None:
        self.epoch += 1
        self.entries.clear()

    async def close(self) -> None:
        pass


# One command per read: the current tag (epoch and item generation) and the stored value.
LOOKUP_SCRIPT = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local generation = redis.call('GET', KEYS[2]) or '0'
return {epoch .. ':' .. generation, redis.call('HGET', KEYS[3], ARGV[1])}
"""


class RedisCache:
    """Entries in Redis, shared by every service on the same database.

    An item's entries live in one hash `<prefix>item:<id>` (field per route and parameters, value
    `<epoch>:<generation>|<expires>|<etag>|<body>`); `<prefix>gen:<id>` and `<prefix>epoch` are the
    generations. Flows and services both move generations on (flows/invalidation.py).
    """

    kind = "redis"

    def __init__(self, url: str, database_name: str, ttl_seconds: int) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.lookup_script = self.client.register_script(LOOKUP_SCRIPT)
        self.prefix = redis_prefix(database_name)
        self.ttl = ttl_seconds

    async def lookup(self, item: str, field: str) -> tuple[Entry | None, bytes]:
        keys = [redis_epoch_key(self.prefix), redis_generation_key(self.prefix, item), redis_item_key(self.prefix, item)]
        tag, value = await self.lookup_script(keys=keys, args=[field])
        if not value:
            return None, tag
        stored_tag, expires, etag, body = value.split(b"|", 3)
        if stored_tag != tag or float(expires) <= time.time():
            return None, tag
        return Entry(body, etag.decode()), tag

    async def store(self, item: str, field: str, tag: bytes, entry: Entry, expires_at: float | None = None) -> None:
        expires = min(expires_at or float("inf"), time.time() + self.ttl)
        key = redis_item_key(self.prefix, item)
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hset(key, field, b"|".join([tag, repr(expires).encode(), entry.etag.encode(), entry.body]))
            # NX: the hash lives at most one TTL after its first entry, so fields cannot pile up.
            pipe.expire(key, self.ttl, nx=True)
            await pipe.execute()

    async def invalidate(self, items: list[str]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for item in items:
                pipe.incr(redis_generation_key(self.prefix, item))
                pipe.delete(redis_item_key(self.prefix, item))
            await pipe.execute()

    async def invalidate_all(self) -> None:
        await self.client.incr(redis_epoch_key(self.prefix))

    async def close(self) -> None:
        await self.client.aclose()


class InvalidationListener:
    """LISTENs for the items flows touched and drops them from the cache, answering the flows' pings.

    The cache is trusted only while the LISTEN is in force: until then, and after its connection is
    lost, reads bypass it, and everything cached before is dropped when listening (re)starts.
    """

    def __init__(self, url: str, cache: MemoryCache | RedisCache, ack_connection) -> None:
        self.url = url
        self.cache = cache
        self.ack_connection = ack_connection
        self.instance = uuid.uuid4().hex[:16]
        self.listening = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="invalidation-listener")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _handle(self, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        if kind == "items":
            await self.cache.invalidate(rest.split())
        elif kind == "ping":
            async with self.ack_connection() as conn:
                await conn.execute("select pg_notify(%s, %s)", (ACK_CHANNEL, f"{rest} {self.instance}"))

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, application_name="analytics-serve-listening"
                ) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    # Named only once the LISTEN is in force: flows wait for the services so named.
                    await conn.execute("select set_config('application_name', %s, false)", (SERVICE_APPLICATION_PREFIX + self.instance,))
                    await self.cache.invalidate_all()
                    self.listening.set()
                    async for note in conn.notifies():
                        await self._handle(note.payload)
            except asyncio.CancelledError:
                self.listening.clear()
                raise
            except Exception as exc:
                if self.listening.is_set():
                    log.warning(
                        "cache: invalidation listener lost its connection (%s); reads bypass the cache until it is back", type(exc).__name__
                    )
                self.listening.clear()
                await asyncio.sleep(1.0)
