"""The service's settings: read once from the environment when it starts, next to the flows' own."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from flows.settings import SettingsError, int_setting


@dataclass(frozen=True)
class ServiceSettings:
    """What the service can be told, with the defaults a fresh checkout runs with."""

    redis_url: str | None = None
    cache_enabled: bool = True
    cache_ttl_seconds: int = 300
    cache_max_entries: int = 10_000
    # Header a trusted reverse proxy sets to the client address (e.g. X-Forwarded-For); off by default,
    # because without such a proxy any client could write any address into it.
    trusted_proxy_header: str | None = None
    # Header a trusted gateway sets to the authenticated user's UUID, and/or the secret of signed
    # user tokens (service/identity.py); without either, user_id is always NULL.
    trusted_user_header: str | None = None
    user_token_secret: str | None = None
    batch_max_rows: int = 500
    batch_wait_ms: int = 5
    writers: int = 2
    max_body_bytes: int = 16_384
    read_pool_size: int = 8


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name}={raw!r} is not on or off; set it to on or off")


def load_service_settings(environ: Mapping[str, str] | None = None) -> ServiceSettings:
    """Build ServiceSettings from REDIS_URL and the ANALYTICS_SERVE_* / ANALYTICS_TRUSTED_* variables."""
    env = os.environ if environ is None else environ
    defaults = ServiceSettings()
    return ServiceSettings(
        redis_url=env.get("REDIS_URL") or None,
        cache_enabled=_flag(env, "ANALYTICS_SERVE_CACHE", defaults.cache_enabled),
        cache_ttl_seconds=int_setting(env, "ANALYTICS_SERVE_CACHE_TTL_SECONDS", defaults.cache_ttl_seconds, 1),
        cache_max_entries=int_setting(env, "ANALYTICS_SERVE_CACHE_MAX_ENTRIES", defaults.cache_max_entries, 1),
        trusted_proxy_header=(env.get("ANALYTICS_TRUSTED_PROXY_HEADER") or "").strip().lower() or None,
        trusted_user_header=(env.get("ANALYTICS_TRUSTED_USER_HEADER") or "").strip().lower() or None,
        user_token_secret=env.get("ANALYTICS_USER_TOKEN_SECRET") or None,
        batch_max_rows=int_setting(env, "ANALYTICS_TRACK_BATCH_ROWS", defaults.batch_max_rows, 1),
        batch_wait_ms=int_setting(env, "ANALYTICS_TRACK_BATCH_WAIT_MS", defaults.batch_wait_ms, 0),
        writers=int_setting(env, "ANALYTICS_TRACK_WRITERS", defaults.writers, 1),
        max_body_bytes=int_setting(env, "ANALYTICS_TRACK_MAX_BODY_BYTES", defaults.max_body_bytes, 256),
        read_pool_size=int_setting(env, "ANALYTICS_SERVE_POOL_SIZE", defaults.read_pool_size, 1),
    )
