"""Name each event's traffic source from its page URL's utm_source and its referrer.

Precedence, first that applies:

1. ``utm_source`` in the page URL's query (key case-insensitive; value percent- and
   ``+``-decoded, trimmed, lower-cased; an empty value does not count; a ``utm_source`` in
   the fragment after ``#`` does not count). A value whose escapes are not valid UTF-8 (a lone
   ``%ff``, overlong ``%C0%80``, surrogate ``%ED%A0%80``), or that holds a control character
   (``%00``) or is longer than a key may be, is ``other``.
2. ``direct`` when the referrer is NULL, empty or whitespace.
3. ``other`` when the referrer is non-empty but has no parseable host (``not a url``,
   ``:::``, ``http://``, ``null``, ``undefined``).
4. ``internal`` when a site host equals the referrer host or is a parent domain of it.
5. The source name of the known host that matches most specifically (exactly, or as a
   parent domain; a ``name.*`` row stands for ``name.`` plus a country/generic ending such
   as ``com``, ``fr``, ``co.uk`` or ``com.br``).
6. The referrer host without a leading ``www.``.

Host parsing: the text is trimmed; ``scheme://`` or ``//`` introduces an authority, otherwise
the text up to the first ``/``, ``?``, ``#`` or ``\\`` is the authority and must contain a
dot to count as a host (so tracker garbage such as ``null`` is ``other``). Userinfo and the
port are dropped, the host is lower-cased and loses trailing dots, and it must consist of
letter/digit/``_``/``-`` labels (IDN hosts in Unicode form pass) or be a bracketed IPv6
literal, and be at most 255 characters long.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import unquote_to_bytes

import polars as pl

from transforms.text import MAX_KEY_CHARS

DIRECT = "direct"
INTERNAL = "internal"
OTHER = "other"
WILDCARD_SUFFIX = ".*"

_HOST_LABELS = re.compile(r"[\w-]+(?:\.[\w-]+)*")

# Not the public suffix list: registries sell names under these second-level labels
# (google.co.uk, google.com.br, yahoo.co.jp), which is all a name.* row needs to recognise.
_SECOND_LEVEL = r"(?:ac|co|com|edu|gob|gov|go|mil|ne|net|nic|or|org)"
_TOP_LEVEL = r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"

_SLASHED_AUTHORITY = r"(?s)^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//([^/?#\\]*)"
_BARE_AUTHORITY = r"(?s)^([^/?#\\]*)"
# Greedy so a password containing '@' is dropped whole.
_USERINFO = r"(?s)^.*@"
_HOST_OF_AUTHORITY = r"^(\[[0-9A-Fa-f:.]+\]|[^:@\[\]]*)(?::[0-9]*)?$"
_VALID_HOST = r"^(?:\[[0-9a-f:.]+\]|[\w-]+(?:\.[\w-]+)*)$"

_QUERY = r"(?s)^[^?#]*\?([^#]*)"
# ';' as a separator also catches HTML-escaped '&amp;utm_source=' in copied links.
_UTM_SOURCE = r"(?i)(?:^|[&;])utm_source=([^&;]+)"


def classify_traffic_sources(
    events: pl.DataFrame,
    known_sources: Sequence[tuple[str, str]],
    site_hosts: Sequence[str],
) -> pl.DataFrame:
    """Return events with a non-null String ``traffic_source`` column added."""
    referrers = events.get_column("referrer").cast(pl.String).drop_nulls().unique()
    page_urls = events.get_column("page_url").cast(pl.String).drop_nulls().unique()
    by_referrer = _classify_referrers(referrers, known_sources, site_hosts)
    by_page_url = _extract_utm_sources(page_urls).drop_nulls("utm_source")
    from_utm = (
        pl.col("page_url")
        .cast(pl.String)
        .replace_strict(by_page_url["page_url"], by_page_url["utm_source"], default=None, return_dtype=pl.String)
    )
    # Every non-null referrer is a key, so only NULL falls through to the default.
    from_referrer = (
        pl.col("referrer")
        .cast(pl.String)
        .replace_strict(by_referrer["referrer"], by_referrer["source"], default=DIRECT, return_dtype=pl.String)
    )
    return events.with_columns(pl.coalesce(from_utm, from_referrer).alias("traffic_source"))


def _classify_referrers(
    referrers: pl.Series,
    known_sources: Sequence[tuple[str, str]],
    site_hosts: Sequence[str],
) -> pl.DataFrame:
    """Return a ``referrer``/``source`` frame naming each referrer's source (utm_source aside)."""
    hosts = _find_hosts(referrers)
    known = _expand_known_sources(known_sources, hosts["host"].drop_nulls().unique())
    site = {host: INTERNAL for host in _normalise_site_hosts(site_hosts)}
    host = pl.col("host")
    source = (
        pl.when(pl.col("referrer").str.strip_chars() == "")
        .then(pl.lit(DIRECT))
        .when(host.is_null())
        .then(pl.lit(OTHER))
        .otherwise(
            pl.coalesce(
                _match_longest_suffix(host, site),
                _match_longest_suffix(host, known),
                host.str.strip_prefix("www."),
            )
        )
    )
    return hosts.select("referrer", source.alias("source"))


def _extract_utm_sources(page_urls: pl.Series) -> pl.DataFrame:
    """Return a ``page_url``/``utm_source`` frame; ``utm_source`` is null where none counts."""
    frame = pl.DataFrame({"page_url": page_urls.cast(pl.String)}).with_columns(
        pl.col("page_url").str.extract(_QUERY, 1).str.extract(_UTM_SOURCE, 1).alias("raw")
    )
    # Polars cannot percent-decode, so decode in Python once per distinct raw value.
    raws = frame["raw"].drop_nulls().unique().to_list()
    decoded = {raw: _decode_utm_source(raw) for raw in raws}
    return frame.select(
        "page_url",
        pl.col("raw").replace_strict(decoded, default=None, return_dtype=pl.String).alias("utm_source"),
    )


def _decode_utm_source(raw: str) -> str | None:
    """The utm_source a raw query value names: None when blank, OTHER when it is not readable text."""
    # Sanitised here, where the bytes are decoded, rather than only before writing: unquote_plus
    # turns bad bytes into U+FFFD and lets %00 through as NUL, which jsonb refuses and which fails
    # the whole window; and refusing here lets the spec say what such a view counts as (`other`).
    # The strict codec refuses invalid, truncated and overlong sequences and surrogates.
    try:
        text = unquote_to_bytes(raw.replace("+", " ")).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return OTHER
    text = text.strip().lower()
    if not text:
        return None
    if len(text) > MAX_KEY_CHARS or any(unicodedata.category(char) == "Cc" for char in text):
        return OTHER
    return text


def _expand_known_sources(known_sources: Iterable[tuple[str, str]], hosts: pl.Series) -> dict[str, str]:
    """Return exact host -> source, with ``name.*`` rows resolved against the given hosts."""
    exact: dict[str, str] = {}
    wildcards: list[tuple[str, str]] = []
    for raw_host, raw_source in known_sources:
        host, source = _normalise_host(raw_host), raw_source.strip()
        is_wildcard = host.endswith(WILDCARD_SUFFIX)
        name = host.removesuffix(WILDCARD_SUFFIX) if is_wildcard else host
        if not _HOST_LABELS.fullmatch(name) or not source:
            raise ValueError(f"known source row ({raw_host!r}, {raw_source!r}) is not a host or name.* with a source")
        if is_wildcard:
            wildcards.append((name, source))
        else:
            exact.setdefault(name, source)
    table = dict(exact)
    # A longer name.* prefix is the more specific row (mail.yahoo.* over yahoo.*).
    for name, source in sorted(wildcards, key=lambda row: -row[0].count(".")):
        escaped = re.escape(name)
        pattern = rf"(?:^|\.)({escaped}\.(?:{_SECOND_LEVEL}\.)?{_TOP_LEVEL})$"
        for concrete in hosts.cast(pl.String).str.extract(pattern, 1).drop_nulls().unique().to_list():
            table.setdefault(concrete, source)
    return table


def _find_hosts(referrers: pl.Series) -> pl.DataFrame:
    """Return a ``referrer``/``host`` frame; ``host`` is normalised, or null when there is none."""
    # One stage per step: eager frames do not share repeated sub-expressions.
    return (
        pl.DataFrame({"referrer": referrers.cast(pl.String)})
        .with_columns(pl.col("referrer").str.strip_chars().str.extract(_SLASHED_AUTHORITY, 1).alias("slashed"))
        .with_columns(
            pl.coalesce("slashed", pl.col("referrer").str.strip_chars().str.extract(_BARE_AUTHORITY, 1))
            .str.replace(_USERINFO, "")
            .str.extract(_HOST_OF_AUTHORITY, 1)
            .str.to_lowercase()
            .str.strip_chars_end(".")
            .alias("host")
        )
        .select(
            "referrer",
            pl.when(
                pl.col("host").str.contains(_VALID_HOST)
                # Longer than DNS allows: no readable host, and too long a key to store.
                & (pl.col("host").str.len_chars() <= MAX_KEY_CHARS)
                & (pl.col("slashed").is_not_null() | pl.col("host").str.contains(".", literal=True))
            )
            .then(pl.col("host"))
            .alias("host"),
        )
    )


def _match_longest_suffix(host: pl.Expr, table: Mapping[str, str]) -> pl.Expr:
    """Return the value of the longest table host equal to host or a parent domain of it."""
    by_depth: dict[int, dict[str, str]] = {}
    for key, value in table.items():
        by_depth.setdefault(key.count(".") + 1, {})[key] = value
    candidates = [
        _last_labels(host, depth).replace_strict(by_depth[depth], default=None, return_dtype=pl.String)
        for depth in sorted(by_depth, reverse=True)
    ]
    return pl.coalesce(candidates) if candidates else pl.lit(None, pl.String)


def _last_labels(host: pl.Expr, count: int) -> pl.Expr:
    """Return the host's last count dot-separated labels, or null if it has fewer."""
    return host.str.extract(rf"((?:[^.]+\.){{{count - 1}}}[^.]+)$", 1)


def _normalise_site_hosts(site_hosts: Iterable[str]) -> list[str]:
    """Return the non-empty site hosts, normalised like referrer hosts."""
    return [host for host in map(_normalise_host, site_hosts) if host]


def _normalise_host(host: str) -> str:
    """Return host trimmed, lower-cased and without trailing dots."""
    return host.strip().lower().rstrip(".")
