"""Definition versions: rows computed under other definitions are reported stale and `backfill --stale` recomputes exactly them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from data.reference import load_bot_patterns
from flows import definitions, window
from flows.backfill import backfill
from flows.cli import main
from tests.flows.test_backfill import rows_of

ZONE = "Europe/Paris"
END = datetime(2026, 10, 27, 23, tzinfo=UTC)
FIRST, MIDDLE, LAST = date(2026, 10, 21), date(2026, 10, 24), date(2026, 10, 28)
# A new bot pattern that matches a real user agent of the sample (Firefox for Android).
NEW_PATTERNS = (*load_bot_patterns(), r"gecko/127\.0 firefox")


def fill(url: str) -> None:
    from data.sample import generate_sample

    with psycopg.connect(url) as conn:
        generate_sample(conn, rows=5_000, days=8, seed=13, end=END, items=10)


def use_new_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window, "load_bot_patterns", lambda: NEW_PATTERNS)
    monkeypatch.setattr(definitions, "load_bot_patterns", lambda: NEW_PATTERNS)


def hour_updates(url: str, start: date) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select event_id, period_start, updated_at from event_analytics where period_type = 'hour' and period_start >= %s::timestamp at time zone %s order by 1, 2",
            (start, ZONE),
        ).fetchall()


@pytest.mark.usefixtures("prefect_server")
def test_a_changed_bot_pattern_makes_rows_stale_and_backfill_stale_recomputes_exactly_them(
    database_url: str,
    clean_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    fill(database_url)
    backfill(start=FIRST, end=MIDDLE, chunk_days=1)
    assert main(["check"]) == 0
    assert "stale" not in capsys.readouterr().out

    use_new_patterns(monkeypatch)
    backfill(start=MIDDLE, end=LAST, chunk_days=1)
    assert main(["check"]) == 0  # stale is not drift: every invariant still holds
    stale_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("check: stale: "))
    assert "analytics backfill --stale" in stale_line and "hour " in stale_line
    recent = hour_updates(database_url, MIDDLE)
    fill(clean_database)
    with monkeypatch.context() as patched:
        patched.setenv("DATABASE_URL", clean_database)
        backfill(start=FIRST, end=LAST, chunk_days=1)
    clean = rows_of(clean_database)
    assert rows_of(database_url) != clean  # the first days still count Firefox for Android as people

    assert main(["backfill", "--stale"]) == 0
    assert hour_updates(database_url, MIDDLE) == recent  # rows already current are not rewritten
    assert main(["check"]) == 0
    assert "stale" not in capsys.readouterr().out
    assert main(["backfill", "--stale"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert rows_of(database_url) == clean
