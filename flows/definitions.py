"""The definitions version every analytics row is written with (see transforms/definitions.py)."""

from __future__ import annotations

from data.reference import load_bot_patterns, load_known_sources
from flows.settings import Settings
from transforms.definitions import definitions_version
from transforms.pipeline import MetricConfig


def current_definitions_version(settings: Settings) -> str:
    """The version of the definitions this process computes with (the values flows.window.metric_config uses)."""
    return definitions_version(
        MetricConfig(
            timezone=settings.timezone,
            visit_gap_minutes=settings.visit_gap_minutes,
            bot_patterns=load_bot_patterns(),
            known_sources=load_known_sources(),
            site_hosts=settings.site_hosts,
        )
    )
