"""Tracking requests turned into raw rows: validated as the plan does, bounded, and cleaned of what
PostgreSQL refuses (every value a client sends is hostile)."""

from __future__ import annotations

import ipaddress
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

EVENT_TYPES = ("view", "click", "share", "favorite", "external_click", "ticket_click")
TEXT_LIMITS = {"session_id": 128, "referrer": 2048, "user_agent": 1024, "page_url": 2048}
METADATA_MAX_BYTES = 4096
METADATA_MAX_KEYS = 32
METADATA_MAX_DEPTH = 4
METADATA_MAX_KEY_CHARS = 64
HEADER_TEXT_LIMIT = 1024


class RequestError(ValueError):
    """A request the service refuses (4xx); the message says what to send instead."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RawRow:
    """One row of event_analytics_events, as the tracking route writes it."""

    id: str
    event_id: str
    event_type: str
    user_id: str | None
    session_id: str
    referrer: str | None
    user_agent: str | None
    ip_address: str | None
    page_url: str | None
    timestamp: datetime
    metadata: str


def clean_text(text: str) -> str:
    """The text without NULs and lone surrogates, which PostgreSQL text and UTF-8 refuse."""
    return text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def parse_item_id(text: str) -> str:
    """The item id in canonical form, or a RequestError naming it."""
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        shown = clean_text(text)[:60]
        raise RequestError(f"event id {shown!r} is not a UUID; use the item's id, e.g. 0b3c2a9e-5d1f-4c8e-9a7b-2f6d1e0c4b5a") from None


def _reject_constant(name: str) -> float:
    raise RequestError(f"{name} is not valid JSON; send finite numbers only")


def _clean_metadata(value: Any, depth: int, path: str) -> Any:
    if isinstance(value, dict):
        if depth >= METADATA_MAX_DEPTH:
            raise RequestError(f"metadata{path} nests deeper than {METADATA_MAX_DEPTH} levels; flatten it")
        if len(value) > METADATA_MAX_KEYS:
            raise RequestError(f"metadata{path} has {len(value)} keys; send at most {METADATA_MAX_KEYS}")
        cleaned = {}
        for key, item in value.items():
            clean_key = clean_text(key)
            if len(clean_key) > METADATA_MAX_KEY_CHARS:
                raise RequestError(f"a metadata key is {len(clean_key)} characters long; keep keys to {METADATA_MAX_KEY_CHARS}")
            cleaned[clean_key] = _clean_metadata(item, depth + 1, f"{path}.{clean_key}")
        return cleaned
    if isinstance(value, list):
        if depth >= METADATA_MAX_DEPTH:
            raise RequestError(f"metadata{path} nests deeper than {METADATA_MAX_DEPTH} levels; flatten it")
        if len(value) > METADATA_MAX_KEYS:
            raise RequestError(f"metadata{path} has {len(value)} elements; send at most {METADATA_MAX_KEYS}")
        return [_clean_metadata(item, depth + 1, f"{path}[]") for item in value]
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"metadata{path} is not a finite number; send finite numbers only")
    return value


def _optional_text(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string, not {type(value).__name__}")
    value = clean_text(value)
    if len(value) > TEXT_LIMITS[name]:
        raise RequestError(f"{name} is {len(value)} characters long; send at most {TEXT_LIMITS[name]}")
    return value or None


@dataclass(frozen=True)
class TrackBody:
    """The fields of a tracking request body, validated and cleaned."""

    event_type: str
    session_id: str | None
    referrer: str | None
    user_agent: str | None
    page_url: str | None
    metadata: str


def parse_track_body(raw: bytes) -> TrackBody:
    """Validate `{event_type, session_id?, referrer?, user_agent?, page_url?, metadata?}`; other keys are ignored."""
    if not raw.strip():
        raise RequestError('the body is empty; send JSON such as {"event_type": "view"}')
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RequestError:
        raise
    except (ValueError, RecursionError):
        raise RequestError('the body is not valid JSON; send e.g. {"event_type": "view"}') from None
    if not isinstance(body, dict):
        raise RequestError('the body must be a JSON object, e.g. {"event_type": "view"}')
    event_type = body.get("event_type")
    if event_type not in EVENT_TYPES:
        shown = clean_text(event_type)[:40] if isinstance(event_type, str) else event_type
        raise RequestError(f"event_type {shown!r} is not one of {', '.join(EVENT_TYPES)}")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise RequestError("metadata must be a JSON object")
    text = json.dumps(_clean_metadata(metadata, 0, ""), ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) > METADATA_MAX_BYTES:
        raise RequestError(f"metadata is {len(text.encode('utf-8'))} bytes as JSON; send at most {METADATA_MAX_BYTES}")
    return TrackBody(
        event_type=event_type,
        session_id=_optional_text(body, "session_id"),
        referrer=_optional_text(body, "referrer"),
        user_agent=_optional_text(body, "user_agent"),
        page_url=_optional_text(body, "page_url"),
        metadata=text,
    )


def header_text(value: str | None) -> str | None:
    """A header value fit for a text column: cleaned and cut to a bounded length."""
    if value is None:
        return None
    return clean_text(value)[:HEADER_TEXT_LIMIT] or None


def parse_address(text: str | None) -> str | None:
    """An IPv4/IPv6 address in canonical form, or None when `text` is not one."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(peer: str | None, headers: dict[str, str], trusted_proxy_header: str | None) -> str | None:
    """The client's address: the trusted proxy's header when one is configured (the last address,
    the one the proxy itself appended), else the connection's peer."""
    if trusted_proxy_header:
        forwarded = headers.get(trusted_proxy_header)
        if forwarded:
            return parse_address(forwarded.split(",")[-1])
    return parse_address(peer)


def build_row(
    item_id: str,
    body: TrackBody,
    *,
    user_id: str | None,
    header_user_agent: str | None,
    header_referer: str | None,
    address: str | None,
    received_at: datetime,
) -> RawRow:
    """The raw row of one tracking request; the session id is generated when the body has none."""
    return RawRow(
        id=str(uuid.uuid4()),
        event_id=item_id,
        event_type=body.event_type,
        user_id=user_id,
        session_id=body.session_id or uuid.uuid4().hex,
        referrer=body.referrer,
        user_agent=body.user_agent or header_text(header_user_agent),
        ip_address=address,
        # The tracking request's own Referer is the page it was sent from.
        page_url=body.page_url or header_text(header_referer),
        timestamp=received_at,
        metadata=body.metadata,
    )
