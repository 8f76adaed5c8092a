"""Reference data shipped in data/: bot patterns and known traffic sources."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
BOT_PATTERNS_FILE = DATA_DIR / "bot_patterns.txt"
TRAFFIC_SOURCES_FILE = DATA_DIR / "traffic_sources.csv"


@cache
def load_bot_patterns(path: Path = BOT_PATTERNS_FILE) -> tuple[str, ...]:
    """Case-insensitive regular expressions, one a line, that mark a user agent as a bot."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


@cache
def load_known_sources(path: Path = TRAFFIC_SOURCES_FILE) -> tuple[tuple[str, str], ...]:
    """(host, source name) pairs; a referrer host matches a row's host or any subdomain of it."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return tuple((row["host"].strip().lower(), row["source"].strip()) for row in rows)
