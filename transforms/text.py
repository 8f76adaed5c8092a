"""Raw text made storable: what PostgreSQL `text`, `jsonb` and a btree key accept from hostile rows.

Polars strings are valid UTF-8, so invalid bytes, overlong encodings and lone surrogates can only
appear where text is decoded from bytes (percent-escapes, see sources.py), which refuses them.
What a valid string can still carry that PostgreSQL refuses, and fails a whole window with:
- NUL: `text` and COPY refuse it, and `jsonb` refuses the `\\u0000` escape JSON writes for it;
- length: a btree entry holds at most about 2.7 kB, so a huge visitor key cannot join the
  primary keys of the visitor tables, and `jsonb` strings stop at 256 MB.
"""

from __future__ import annotations

import hashlib

import polars as pl

NUL = "\x00"
OTHER = "other"
# A breakdown key is a source name, a host (at most 253 characters by DNS), a device class or an
# age group or gender: anything longer is garbage, and counts as `other` like unreadable text.
MAX_KEY_CHARS = 255
# Well under the ~2.7 kB a btree entry may hold, with room for the item and hour beside it.
MAX_VISITOR_KEY_BYTES = 512
# Marks a visitor key stored as its digest; no tracker session id starts with it.
DIGEST_PREFIX = "~sha256:"


def is_storable_key(key: str) -> bool:
    """Whether a breakdown key can become a jsonb key as it is."""
    return NUL not in key and len(key) <= MAX_KEY_CHARS


def storable_key(column: str) -> pl.Expr:
    """The column's breakdown key, `other` where PostgreSQL could not store it (nulls stay null)."""
    value = pl.col(column)
    unstorable = value.str.contains(NUL, literal=True) | (value.str.len_chars() > MAX_KEY_CHARS)
    return pl.when(unstorable).then(pl.lit(OTHER)).otherwise(value).alias(column)


def storable_visitor_keys(events: pl.DataFrame) -> pl.DataFrame:
    """Events whose unstorable visitor keys are replaced by a digest of the key.

    A digest, not `other`: two such visitors stay two, and the same visitor keeps the same key in
    every run and chunk (sha256, not Polars' hash, which may change between versions).
    """
    key = pl.col("visitor_key")
    unstorable = key.str.contains(NUL, literal=True) | (key.str.len_bytes() > MAX_VISITOR_KEY_BYTES)
    bad = events.filter(unstorable).get_column("visitor_key").unique().to_list()
    if not bad:
        return events
    digests = {value: DIGEST_PREFIX + hashlib.sha256(value.encode("utf-8")).hexdigest() for value in bad}
    return events.with_columns(key.replace(digests))


def without_nul(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with NUL replaced in every text column: the last guard before COPY."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text_columns:
        return frame
    found = frame.select(pl.any_horizontal(pl.col(text_columns).str.contains(NUL, literal=True).any())).item()
    if not found:
        return frame
    return frame.with_columns(pl.col(text_columns).str.replace_all(NUL, "\ufffd", literal=True))
