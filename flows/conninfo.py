"""Database connection strings (URLs and key=value conninfo): checked once, and shown only with their secrets masked.

Standard library only, so that the command line can refuse a bad DATABASE_URL before anything heavy is imported;
psycopg is imported only to let libpq itself parse the string.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
_URI = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")
_POSTGRES_URI = re.compile(r"^\s*postgres(ql)?://", re.IGNORECASE)
# Hosts libpq is given: names, IPv4, IPv6 (with a zone), or a socket directory (an absolute path).
_HOST = re.compile(r"^(/.*|[A-Za-z0-9._%:\[\]-]*)$")
_QUOTED = re.compile(r'"([^"]*)"')
# Option names libpq may quote in its messages; any other quoted text came from the string itself.
_OPTION_NAMES = frozenset(
    "host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout client_encoding options "
    "application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count "
    "tcp_user_timeout replication gssencmode sslmode sslnegotiation sslcompression sslcert sslkey sslpassword sslcertmode "
    "sslrootcert sslcrl sslcrldir sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib "
    "gssdelegation service target_session_attrs load_balance_hosts min_protocol_version max_protocol_version".split()
)


def is_secret_key(key: str) -> bool:
    """password, sslpassword, PGPASSWORD and the like (passfile too: masking a path costs nothing)."""
    return "pass" in key.lower()


def _secret_spans(text: str) -> list[tuple[int, int]]:
    """Where the secrets of a connection string lie, erring towards too much: [start, end) offsets."""
    if _URI.match(text):
        return _uri_secret_spans(text)
    return _keyword_secret_spans(text)


def _uri_password_span(url: str) -> tuple[int, int] | None:
    """The password of a URL's user part, from the user's ':' to the last '@'.

    libpq stops at the first '@' or '/', Python's urlsplit at the last '@' before a '/', '?' or '#'; a password
    holding any of them unencoded (a base64 one holds '/') is still masked whole. An '@' in the query makes
    this mask too much, never too little.
    """
    authority = url.index("://") + 3
    at = url.rfind("@", authority)
    colon = url.find(":", authority, at) if at != -1 else -1
    return (colon + 1, at) if colon != -1 else None


def _uri_query_secret_spans(url: str) -> list[tuple[int, int]]:
    """Values of query parameters such as ?password=, the key percent-decoded as libpq decodes it."""
    spans = []
    query = url.find("?", url.index("://") + 3)
    if query != -1:
        offset = query + 1
        for pair in url[offset:].split("&"):
            key, equals, _ = pair.partition("=")
            if equals and is_secret_key(unquote(key)):
                spans.append((offset + len(key) + 1, offset + len(pair)))
            offset += len(pair) + 1
    return spans


def _uri_secret_spans(url: str) -> list[tuple[int, int]]:
    password = _uri_password_span(url)
    return ([password] if password else []) + _uri_query_secret_spans(url)


def _keyword_secret_spans(conninfo: str) -> list[tuple[int, int]]:
    """libpq's key = value syntax: values plain or single-quoted, backslash escapes in both."""
    spans = []
    i, n = 0, len(conninfo)
    while i < n:
        if conninfo[i].isspace():
            i += 1
            continue
        key_start = i
        while i < n and conninfo[i] != "=" and not conninfo[i].isspace():
            i += 1
        key = conninfo[key_start:i]
        while i < n and conninfo[i].isspace():
            i += 1
        if i >= n or conninfo[i] != "=":
            # libpq refuses the string; what follows may be a value that lost its key: hide all of it.
            spans.append((key_start, n))
            break
        i += 1
        while i < n and conninfo[i].isspace():
            i += 1
        value_start = i
        quoted = i < n and conninfo[i] == "'"
        i += 1 if quoted else 0
        while i < n and not (conninfo[i] == "'" if quoted else conninfo[i].isspace()):
            i += 2 if conninfo[i] == "\\" else 1
        if quoted and i >= n:
            # An unterminated quote swallows the rest of the string, whatever key it started under.
            spans.append((value_start, n))
            break
        i = min(i + (1 if quoted else 0), n)
        if is_secret_key(key):
            spans.append((value_start, i))
    return spans


def mask_url(url: str) -> str:
    """The connection string with every password replaced by ***, whatever its form, even malformed."""
    masked, last = [], 0
    for start, end in sorted(_secret_spans(url)):
        if end <= last or end <= start:  # an empty password hides nothing
            continue
        if start >= last:
            masked += [url[last:start], MASK]
        last = end
    return "".join(masked) + url[last:]


def _secrets_of(url: str) -> set[str]:
    """The secret values of a connection string as written and as libpq reads them (decoded, unescaped)."""
    found = set()
    for start, end in _secret_spans(url):
        raw = url[start:end]
        found |= {raw, unquote(raw), raw.strip("'"), re.sub(r"\\(.)", r"\1", raw.strip("'"))}
    return {secret for secret in found if secret}


def redact(text: str, url: str) -> str:
    """A message about `url` (from psycopg, libpq or ADBC) on one line, with the URL masked and no secret of it left."""
    text = " ".join(text.replace(url, mask_url(url)).split())
    for secret in sorted(_secrets_of(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _parse(url: str) -> tuple[dict[str, str], str | None]:
    """libpq's reading of the string, or why it cannot read it, in its words with every quoted piece of the string hidden."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(url), None
    except ProgrammingError as exc:
        reason = str(exc)
    # libpq quotes pieces of the string in its messages, and a piece can hold part of a password.
    return {}, _QUOTED.sub(lambda m: m.group(0) if _is_harmless(m.group(1)) else f'"{MASK}"', redact(reason, url))


def _is_harmless(quoted: str) -> bool:
    """An option name, or the punctuation libpq looks for ("=", "]"): nothing taken from the string's values."""
    return quoted in _OPTION_NAMES or (len(quoted) <= 2 and not any(c.isalnum() for c in quoted))


def connection_problem(url: str) -> str | None:
    """What is wrong with a DATABASE_URL and how to fix it, without its secrets; None when it is usable."""
    if not url.strip():
        return "is blank; set it to a URL such as postgresql://user:password@host:5432/database, or unset it to use the embedded database"
    if _URI.match(url) and not _POSTGRES_URI.match(url):
        return "is not a PostgreSQL URL; it must start with postgresql:// (or postgres://)"
    parsed, reason = _parse(url)
    if reason and _URI.match(url):
        return f"cannot be parsed ({reason}); write it as postgresql://user:password@host:5432/database, percent-encoding special characters (@ as %40, / as %2F, a space as %20)"
    if reason:
        return f"cannot be parsed ({reason}); write it as host=... port=... user=... password='...' dbname=..., quoting values that hold spaces, or as a postgresql:// URL"
    if _URI.match(url) and not _uri_query_secret_spans(url):
        span = _uri_password_span(url)
        written = unquote(url[span[0] : span[1]]) if span else ""
        if written != (parsed.get("password") or ""):
            return (
                "is ambiguous: libpq would read another password than the one written, because an @, / or ? in the user name, "
                "the password or a parameter is not percent-encoded; encode them (@ as %40, / as %2F, ? as %3F)"
            )
    for host in str(parsed.get("host") or "").split(","):
        if not _HOST.match(host):
            return "names a host that is neither a host name, an IP address nor a socket directory; check the part after the @ (percent-encode an @ in the password as %40)"
    for port in str(parsed.get("port") or "").split(","):
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            return "has a port that is not a number from 1 to 65535; check the part after the host's ':'"
    return None
