"""Tracked rows written with group commit: requests wait while a writer gathers a few milliseconds of
rows, and each batch is one INSERT in its own transaction; a request is answered once its batch committed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import psycopg

from flows.sql import load_sql
from service.tracking import RawRow

log = logging.getLogger(__name__)


class WriteUnavailable(RuntimeError):
    """The batch holding a row could not be committed; the row is not stored."""


def batch_parameters(rows: Sequence[RawRow]) -> dict[str, list]:
    """The column arrays of one batch insert."""
    return {
        "ids": [r.id for r in rows],
        "event_ids": [r.event_id for r in rows],
        "event_types": [r.event_type for r in rows],
        "user_ids": [r.user_id for r in rows],
        "session_ids": [r.session_id for r in rows],
        "referrers": [r.referrer for r in rows],
        "user_agents": [r.user_agent for r in rows],
        "ip_addresses": [r.ip_address for r in rows],
        "page_urls": [r.page_url for r in rows],
        "received_at": [r.timestamp for r in rows],
        "metadata": [r.metadata for r in rows],
    }


class BatchWriter:
    """Gathers tracked rows and writes them in batches on `writers` connections of their own."""

    def __init__(self, url: str, *, max_rows: int, wait_ms: int, writers: int, statement_timeout_ms: int) -> None:
        self.url = url
        self.max_rows = max_rows
        self.wait = wait_ms / 1000
        self.writers = writers
        self.statement_timeout_ms = statement_timeout_ms
        self.queue: asyncio.Queue[tuple[RawRow, asyncio.Future[bool]]] = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._run(), name=f"tracked-row-writer-{n}") for n in range(self.writers)]

    async def stop(self) -> None:
        """Write what is queued, then stop the writers."""
        for _ in self.tasks:
            await self.queue.put(None)  # type: ignore[arg-type]
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def submit(self, row: RawRow) -> bool:
        """Queue a row and wait until its batch committed: True when stored, False when its item does not exist."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self.queue.put((row, done))
        return await done

    async def _gather(self) -> tuple[list[tuple[RawRow, asyncio.Future[bool]]], bool]:
        first = await self.queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.wait
        while len(batch) < self.max_rows:
            try:
                entry = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    entry = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
            if entry is None:
                return batch, True
            batch.append(entry)
        return batch, False

    async def _connect(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,
            application_name="analytics-serve-writer",
            options=f"-c statement_timeout={self.statement_timeout_ms}",
        )

    async def _write(self, conn: psycopg.AsyncConnection, rows: list[RawRow]) -> set[str]:
        cursor = await conn.execute(load_sql("insert_tracked_rows"), batch_parameters(rows))
        return {row[0] for row in await cursor.fetchall()}

    async def _run(self) -> None:
        conn: psycopg.AsyncConnection | None = None
        stopping = False
        while not stopping:
            batch, stopping = await self._gather()
            if not batch:
                continue
            rows = [row for row, _ in batch]
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                try:
                    stored = await self._write(conn, rows)
                except psycopg.errors.ForeignKeyViolation:
                    # An item was deleted between the existence check and the insert: the check sees it now.
                    stored = await self._write(conn, rows)
            except Exception as exc:
                log.warning("tracking: a batch of %d rows was not stored (%s)", len(rows), type(exc).__name__)
                if conn is not None:
                    await conn.close()
                conn = None
                for _, done in batch:
                    if not done.done():
                        done.set_exception(WriteUnavailable("the database did not take the row"))
                continue
            for row, done in batch:
                if not done.done():
                    done.set_result(row.id in stored)
        if conn is not None:
            await conn.close()
