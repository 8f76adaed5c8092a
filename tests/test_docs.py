"""The README and docs/ are self-contained: every relative link resolves inside a fresh clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# [text](target) and bare mentions of files outside the checkout, which a clone does not have.
LINK = re.compile(r"\]\(([^)\s]+)\)")
OUTSIDE = re.compile(r"\.\./shared|seeds/0")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not OUTSIDE.findall(text), f"{page.name} points outside the repository"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        resolved = (page.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"


def test_metric_definitions_live_in_the_repository() -> None:
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for column in ("views_count", "unique_views_count", "bounce_rate", "avg_time_on_page_seconds", "traffic_sources", "peak_hour"):
        assert f"`{column}`" in text
