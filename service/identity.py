"""Who the tracked user is: only ever from a source the platform configures, never from the body.

Two sources, either or both: a header that a trusted gateway sets to the authenticated user's UUID
(`ANALYTICS_TRUSTED_USER_HEADER`), or a signed token `<uuid>.<expires unix seconds>.<hex HMAC-SHA256>`
in `X-Analytics-User-Token`, signed with `ANALYTICS_USER_TOKEN_SECRET` by the platform's backend.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

from service.tracking import RequestError

TOKEN_HEADER = "x-analytics-user-token"


def sign_user_token(user_id: str, secret: str, expires_at: int) -> str:
    """The token that names `user_id` until `expires_at` (unix seconds)."""
    message = f"{uuid.UUID(user_id)}.{expires_at}"
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"{message}.{signature}"


def verify_user_token(token: str, secret: str, now: float) -> str:
    """The user id a token names, or a RequestError (401) saying why it is refused."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise RequestError(f"{TOKEN_HEADER} is not <uuid>.<expires>.<signature>; send the token the platform issued", 401)
    user, expires, signature = parts
    expected = hmac.new(secret.encode(), f"{user}.{expires}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise RequestError(f"{TOKEN_HEADER} has a bad signature; send the token the platform issued", 401)
    if not expires.isdigit() or int(expires) < now:
        raise RequestError(f"{TOKEN_HEADER} has expired; ask the platform for a new one", 401)
    try:
        return str(uuid.UUID(user))
    except ValueError:
        raise RequestError(f"{TOKEN_HEADER} does not name a UUID user", 401) from None


def authenticated_user(headers: Mapping[str, str], trusted_user_header: str | None, token_secret: str | None) -> str | None:
    """The user id from the configured source, None for an anonymous request or when none is configured."""
    if trusted_user_header and headers.get(trusted_user_header):
        value = headers[trusted_user_header].strip()
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise RequestError(f"the gateway header {trusted_user_header} is not a UUID; fix the gateway", 400) from None
    if token_secret and headers.get(TOKEN_HEADER):
        return verify_user_token(headers[TOKEN_HEADER], token_secret, time.time())
    return None
