"""Analysts' queries over the archive only read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.archive import ARCHIVED_EVENTS, QUERY_MEMORY_LIMIT, ArchiveQueryError, archive_month, query_archive
from flows.cli import main


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("copy (select 1) to '{root}/month=2026-01/part-forged.parquet'", "only SELECT queries may run over the archive, not COPY"),
        ("install httpfs", "only SELECT queries may run over the archive, not LOAD"),
        ("select * from read_csv('/etc/passwd')", "Permission Error"),
        ("select 1; attach '/tmp/other.db'", "only SELECT queries may run over the archive, not ATTACH"),
    ],
    ids=["copy", "install", "outside-file", "attach"],
)
def test_queries_that_would_write_or_reach_outside_are_refused(tmp_path: Path, sql: str, message: str) -> None:
    with pytest.raises(ArchiveQueryError, match=message.replace("(", r"\(")):
        query_archive(tmp_path, sql.format(root=tmp_path))
    assert not list(tmp_path.rglob("*.parquet"))


def test_an_empty_archive_answers_with_its_columns(tmp_path: Path) -> None:
    columns, rows, truncated = query_archive(tmp_path, "select * from raw_events")
    assert rows == [] and not truncated and {"id", "event_id", "timestamp", "metadata", "month"} <= set(columns)


HOSTILE_AGENTS = {
    "markup": "[/x] Mozilla [bold]",
    "colour": "\x1b[31mred\x1b[0m",
    "hyperlink": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "bidi": "abc\u202edef\u2066",
    "c1": "csi\x9b31m",
    "delete-and-returns": "a\x7fb\rc\nd",
}
CONTROL_CHARACTERS = ("\x1b", "\x9b", "\x7f", "\r", "\u202e", "\u2066")


@pytest.fixture
def hostile_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An archive holding one row per hostile user agent, written as retention writes it."""
    root = tmp_path / "archive"
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(root))
    rows = pl.DataFrame(
        {
            "id": [f"00000000-0000-4000-8000-{n:012d}" for n in range(len(HOSTILE_AGENTS))],
            "user_agent": list(HOSTILE_AGENTS.values()),
            "timestamp": [datetime(2026, 1, 5, n, tzinfo=UTC) for n in range(len(HOSTILE_AGENTS))],
        }
    ).with_columns(pl.lit(None, dtype=pl.String).alias(name) for name in ARCHIVED_EVENTS if name not in ("id", "user_agent", "timestamp"))
    archive_month(root, "2026-01", rows.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS))
    return root


def printed_numbers(out: str) -> list[int]:
    return [int(n) for n in re.findall(r"^│\s*(\d+)\s*│$", out, flags=re.MULTILINE)]


def test_stored_text_prints_literally_without_control_characters(hostile_archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "query", 'select user_agent as "[red]agent" from raw_events order by id']) == 0

    out = capsys.readouterr().out
    assert "[/x] Mozilla [bold]" in out and "[red]agent" in out
    assert "click me" in out and "red" in out
    assert [c for c in CONTROL_CHARACTERS if c in out] == []


def test_the_limit_cuts_and_says_so_without_reading_every_row(hostile_archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "query", "select range as n from range(300000000)"]) == 0
    out = capsys.readouterr().out
    assert printed_numbers(out) == list(range(1_000))
    assert "only the first 1,000 rows are shown" in out

    assert main(["archive", "query", "--limit", "3", "select range as n from range(300000000)"]) == 0
    out = capsys.readouterr().out
    assert printed_numbers(out) == [0, 1, 2] and "only the first 3 rows are shown" in out

    assert main(["archive", "query", "--limit", "3", "select range as n from range(3)"]) == 0
    out = capsys.readouterr().out
    assert printed_numbers(out) == [0, 1, 2] and "only the first" not in out and "3 rows" in out


def test_a_query_past_its_timeout_is_stopped_in_one_line(hostile_archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["archive", "query", "--timeout", "1", "select count(*) from range(1000000000000)"]) == 2

    err = capsys.readouterr().err
    assert err.startswith("analytics archive query: stopped after 1 s") and "--timeout" in err
    assert err.count("\n") == 1


def test_queries_run_under_a_memory_limit(tmp_path: Path) -> None:
    columns, rows, _ = query_archive(
        tmp_path, "select current_setting('memory_limit') as m, current_setting('temp_directory') as t", limit=10
    )
    with duckdb.connect() as conn:
        conn.execute(f"set memory_limit = '{QUERY_MEMORY_LIMIT}'")
        expected = conn.execute("select current_setting('memory_limit')").fetchone()[0]
    assert rows == [(expected, "")]
