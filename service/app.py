"""The ASGI application: the plan's three routes, the analytics page, health and OpenAPI docs."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from flows.database import Database
from service.cache import Entry, InvalidationListener, MemoryCache, RedisCache, etag_of
from service.identity import authenticated_user
from service.reads import PERIOD_TYPES, parse_period_query, read_periods, read_summary, read_summary_columns, zero_summary
from service.settings import ServiceSettings
from service.tracking import EVENT_TYPES, TEXT_LIMITS, RequestError, build_row, client_address, parse_item_id, parse_track_body
from service.writer import BatchWriter, WriteUnavailable

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Clients may keep an answer but must revalidate it (a 304 when the ETag still matches), so a flow's
# figures show on the next fetch; React Query / SWR decide themselves when to fetch.
CACHE_CONTROL = "no-cache"
LISTEN_START_SECONDS = 10

log = logging.getLogger(__name__)

TRACK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["event_type"],
                    "properties": {
                        "event_type": {"type": "string", "enum": list(EVENT_TYPES)},
                        "session_id": {"type": "string", "maxLength": TEXT_LIMITS["session_id"], "description": "generated when missing"},
                        "referrer": {"type": "string", "maxLength": TEXT_LIMITS["referrer"], "description": "the page's document.referrer"},
                        "user_agent": {
                            "type": "string",
                            "maxLength": TEXT_LIMITS["user_agent"],
                            "description": "default: the User-Agent header",
                        },
                        "page_url": {"type": "string", "maxLength": TEXT_LIMITS["page_url"], "description": "default: the Referer header"},
                        "metadata": {"type": "object", "description": "at most 4 KiB as JSON, 32 keys per object, 4 levels"},
                    },
                },
                "example": {"event_type": "view", "referrer": "https://www.facebook.com/", "metadata": {"time_on_page_seconds": 42}},
            }
        },
    }
}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def etag_matches(header: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as for GET)."""
    if header.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == etag for candidate in header.split(","))


def conditional(request: Request, entry: Entry) -> Response:
    headers = {"ETag": entry.etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match", ""), entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is larger than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(f"the body is {declared} bytes; send at most {limit}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the body is over {limit} bytes; send at most {limit}", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(db: Database, service: ServiceSettings) -> FastAPI:
    """The service over `db`; pools, cache, listener and writers start with it."""
    state = SimpleNamespace(pool=None, cache=None, listener=None, writer=None, summary_columns=[])
    timeout_ms = db.settings.statement_timeout_seconds * 1000

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = AsyncConnectionPool(
            db.url,
            min_size=1,
            max_size=service.read_pool_size,
            kwargs={
                "autocommit": True,
                "application_name": "analytics-serve-reads",
                "options": f"-c statement_timeout={timeout_ms} -c timezone=UTC",
            },
            open=False,
        )
        await pool.open(wait=True, timeout=30)
        state.pool = pool
        async with pool.connection() as conn:
            state.summary_columns = await read_summary_columns(conn)
            database_name = conn.info.dbname
        if service.cache_enabled:
            state.cache = (
                RedisCache(service.redis_url, database_name, service.cache_ttl_seconds)
                if service.redis_url
                else MemoryCache(service.cache_max_entries, service.cache_ttl_seconds)
            )
            state.listener = InvalidationListener(db.url, state.cache, pool.connection)
            state.listener.start()
            try:
                await asyncio.wait_for(state.listener.listening.wait(), LISTEN_START_SECONDS)
            except TimeoutError:
                log.warning("cache: not listening for invalidations yet; reads bypass the cache until it is")
        state.writer = BatchWriter(
            db.url,
            max_rows=service.batch_max_rows,
            wait_ms=service.batch_wait_ms,
            writers=service.writers,
            statement_timeout_ms=timeout_ms,
        )
        state.writer.start()
        try:
            yield
        finally:
            await state.writer.stop()
            if state.listener is not None:
                await state.listener.stop()
                await state.cache.close()
            await pool.close()

    app = FastAPIOffline(
        title="event analytics",
        version="1.0",
        description="Tracking and read routes of the events platform's analytics (the plan's routes), and an analytics page.",
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(400, f"{where}: {first.get('msg', 'invalid')}")

    def trusted_cache():
        listener = state.listener
        return state.cache if listener is not None and listener.listening.is_set() else None

    async def cached_read(
        request: Request,
        item: str,
        field: str,
        read: Callable[[psycopg.AsyncConnection], Awaitable[bytes]],
        expires_at: float | None = None,
    ) -> Response:
        cache = trusted_cache()
        tag = None
        if cache is not None:
            try:
                entry, tag = await cache.lookup(item, field)
            except Exception as exc:
                log.warning("cache: lookup failed (%s); reading the database", type(exc).__name__)
                entry, cache = None, None
            if entry is not None:
                return conditional(request, entry)
        try:
            async with state.pool.connection(timeout=10) as conn:
                body = await read(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            log.warning("read failed: %s", type(exc).__name__)
            return error(503, "the database is unavailable; retry shortly")
        entry = Entry(body, etag_of(body))
        if cache is not None:
            try:
                await cache.store(item, field, tag, entry, expires_at)
            except Exception as exc:
                log.warning("cache: store failed (%s)", type(exc).__name__)
        return conditional(request, entry)

    @app.post(
        "/api/events/{event_id}/analytics/track",
        summary="Record one analytics event of an item",
        openapi_extra=TRACK_BODY,
        responses={
            200: {
                "description": "stored (committed)",
                "content": {"application/json": {"example": {"success": True, "id": "…", "session_id": "…"}}},
            },
            400: {"description": "bad input"},
            404: {"description": "unknown item"},
            413: {"description": "body too large"},
        },
    )
    async def track(event_id: str, request: Request) -> JSONResponse:
        """Validated and bounded; `user_id` only from the configured gateway header or signed token; answered once committed."""
        item = parse_item_id(event_id)
        body = parse_track_body(await read_body(request, service.max_body_bytes))
        row = build_row(
            item,
            body,
            user_id=authenticated_user(request.headers, service.trusted_user_header, service.user_token_secret),
            header_user_agent=request.headers.get("user-agent"),
            header_referer=request.headers.get("referer"),
            address=client_address(request.client.host if request.client else None, request.headers, service.trusted_proxy_header),
            received_at=datetime.now(UTC),
        )
        try:
            stored = await state.writer.submit(row)
        except WriteUnavailable:
            return error(503, "the event was not stored: the database is unavailable; retry shortly")
        if not stored:
            return error(404, f"event {item} does not exist; track items that are in the events table")
        return JSONResponse({"success": True, "id": row.id, "session_id": row.session_id})

    @app.get("/api/events/{event_id}/analytics", summary="The item's summary row (zeros for an item with none yet)")
    async def summary(event_id: str, request: Request) -> Response:
        item = parse_item_id(event_id)

        async def read(conn: psycopg.AsyncConnection) -> bytes:
            return await read_summary(conn, item) or zero_summary(state.summary_columns, item)

        return await cached_read(request, item, "summary", read)

    @app.get("/api/events/{event_id}/analytics/periods", summary="The item's rows of one period type, ascending period_start")
    async def periods(
        event_id: str,
        request: Request,
        period_type: str | None = Query(None, description=f"one of {', '.join(PERIOD_TYPES)} (default day)"),
        start_date: str | None = Query(None, description="ISO date or time; rows with period_start >= it (default: a recent span)"),
        end_date: str | None = Query(None, description="ISO date or time; rows with period_end <= it (default now)"),
    ) -> Response:
        item = parse_item_id(event_id)
        query = parse_period_query(period_type, start_date, end_date, db.settings.timezone, datetime.now(UTC))

        async def read(conn: psycopg.AsyncConnection) -> bytes:
            return await read_periods(conn, item, query)

        return await cached_read(request, item, query.cache_field, read, query.expires_at)

    @app.get("/events/{event_id}/analytics", response_class=HTMLResponse, summary="The analytics page of an item")
    async def page(event_id: str) -> HTMLResponse:
        item = parse_item_id(event_id)
        template = (STATIC_DIR / "analytics.html").read_text(encoding="utf-8")
        return HTMLResponse(template.replace("{{event_id}}", html.escape(item)).replace("{{timezone}}", html.escape(db.settings.timezone)))

    @app.get("/health", summary="Whether the database answers and the cache is listening for invalidations")
    async def health() -> JSONResponse:
        try:
            async with state.pool.connection(timeout=5) as conn:
                await conn.execute("select 1")
            database = "ok"
        except (psycopg.OperationalError, PoolTimeout):
            database = "unavailable"
        cache = "off" if state.cache is None else state.cache.kind
        listening = state.listener is not None and state.listener.listening.is_set()
        status = 200 if database == "ok" else 503
        return JSONResponse(
            {"status": "ok" if status == 200 else "degraded", "database": database, "cache": cache, "listening": listening},
            status_code=status,
        )

    app.state.service = state
    return app
