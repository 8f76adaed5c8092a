"""Analysts' queries over the archive only read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.archive import ArchiveQueryError, query_archive


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
    columns, rows = query_archive(tmp_path, "select * from raw_events")
    assert rows == [] and {"id", "event_id", "timestamp", "metadata", "month"} <= set(columns)
