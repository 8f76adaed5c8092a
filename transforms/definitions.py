"""The version of the metric definitions: a digest of every setting and reference value a figure depends on."""

from __future__ import annotations

import hashlib
import json

from transforms.pipeline import MetricConfig

# Raise when a definition changes in code (a new rule, a fixed bug): every stored row becomes stale.
DEFINITIONS_NUMBER = 1


def definitions_version(config: MetricConfig) -> str:
    """16 hex digits that change whenever the time zone, visit gap, site hosts, bot patterns, known
    sources or the definitions number do."""
    payload = [
        DEFINITIONS_NUMBER,
        config.timezone,
        config.visit_gap_minutes,
        sorted(config.site_hosts),
        list(config.bot_patterns),
        [list(pair) for pair in config.known_sources],
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:16]
