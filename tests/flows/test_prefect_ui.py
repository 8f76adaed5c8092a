"""What an analyst sees in the Prefect UI, read back from the Prefect API: names, forms, artifacts, logs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

import psycopg
import pytest

from data.sample import generate_sample
from flows.backfill import REPORT_CHUNKS_EACH_END, backfill, format_backfill_report
from flows.runs import hourly

ZONE = "Europe/Paris"
FIRST, LAST = date(2026, 10, 21), date(2026, 10, 28)
END = datetime(2026, 10, 27, 23, tzinfo=UTC)
ISO_OFFSET = re.compile(r"\d{2}:\d{2}(:\d{2})?(\.\d+)?\+00:00")


@pytest.fixture
def sampled(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANALYTICS_TIMEZONE", ZONE)
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=6_000, days=8, seed=5, end=END, items=20)
    return database_url


def read_back(flow_run_id):
    """The flow run, its task runs, artifacts and log messages, as the UI shows them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return flow_run, task_runs, artifacts, [log.message for log in logs]


def assert_readable(messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert "{'" not in message and "': " not in message, message  # no Python dict
        assert not ISO_OFFSET.search(message), message  # no ISO instant with +00:00


@pytest.mark.usefixtures("prefect_server")
def test_backfill_chunks_are_named_by_their_days_and_reported_per_chunk(sampled: str) -> None:
    state = backfill(start=FIRST, end=LAST, chunk_days=2, return_state=True)
    assert state.is_completed()
    flow_run, task_runs, artifacts, messages = read_back(state.state_details.flow_run_id)

    chunk_names = sorted(run.name for run in task_runs if run.name.startswith("chunk "))
    assert chunk_names == [
        "chunk 2026-10-21 → 2026-10-23",
        "chunk 2026-10-23 → 2026-10-25",
        "chunk 2026-10-25 → 2026-10-27",
        "chunk 2026-10-27 → 2026-10-28",
    ]

    report = next(artifact.data for artifact in artifacts if artifact.key == "backfill-report")
    table = [line for line in report.splitlines() if line.startswith("| 2026-")]
    assert [line.split(" | ")[0].lstrip("| ") for line in table] == [name.removeprefix("chunk ") for name in chunk_names]
    assert "| chunk | rows read | rejected | rows written | seconds |" in report
    rows_read = sum(int(line.split(" | ")[1].replace(",", "")) for line in table)
    assert rows_read == state.result()["rows_read"] > 0
    assert_readable(messages)
    assert any(message.startswith("chunk 2026-10-21 → 2026-10-23: read ") for message in messages)


def test_a_backfill_report_of_many_chunks_stays_bounded() -> None:
    chunks = [
        {
            "chunk_start": f"2026-{m:02d}-{d:02d}T00:00:00+00:00",
            "chunk_end": f"2026-{m:02d}-{d + 1:02d}T00:00:00+00:00",
            "rows_read": 10,
            "rows_written": {"hour": 1},
            "seconds": 0.5,
        }
        for m in range(1, 11)
        for d in range(1, 28)
    ]
    figures = {
        "start": "2026-01-01",
        "end": "2026-10-28",
        "timezone": "UTC",
        "chunks": len(chunks),
        "chunks_resumed": 0,
        "seconds": 1.0,
        "rows_read": 2700,
        "rows_rejected": {},
        "bot_rows": 0,
        "items_touched": 1,
        "rows_written": {"hour": 270},
    }
    report = format_backfill_report("backfill", figures, chunks)
    rows = [line for line in report.splitlines() if line.startswith("| 2026-")]
    assert len(rows) == 2 * REPORT_CHUNKS_EACH_END
    assert rows[0].startswith("| 2026-01-01 → 2026-01-02 ") and rows[-1].startswith("| 2026-10-27 → 2026-10-28 ")
    assert f"| … {len(chunks) - 2 * REPORT_CHUNKS_EACH_END:,} more chunks" in report


@pytest.mark.usefixtures("prefect_server")
def test_backfill_form_describes_its_parameters_and_its_errors_use_their_names(sampled: str) -> None:
    from prefect.client.orchestration import get_client

    deployment_id = backfill.to_deployment(name="ui-test").apply()
    with get_client(sync_client=True) as client:
        schema = client.read_deployment(deployment_id).parameter_openapi_schema
    properties = schema["properties"]
    assert "exclusive" in properties["end"]["description"]
    assert all(
        properties[name].get("description") for name in ("start", "period_types", "event_ids", "chunk_days", "restart", "rebuild_all_time")
    )

    state = backfill(start=LAST, end=FIRST, return_state=True)
    assert state.is_failed()
    flow_run, _, _, _ = read_back(state.state_details.flow_run_id)
    assert "set `start` before `end`" in flow_run.state.message
    assert "--" not in flow_run.state.message


@pytest.mark.usefixtures("prefect_server")
def test_the_hourly_run_is_named_after_its_whole_window_with_a_readable_report(sampled: str) -> None:
    state = hourly(as_of=datetime(2026, 10, 26, 11, 5, tzinfo=UTC), lookback_hours=3, return_state=True)
    assert state.is_completed()
    flow_run, _, artifacts, messages = read_back(state.state_details.flow_run_id)
    # 11:05 UTC is 12:05 in Paris: the last closed local hour is 11:00, and three more before it.
    assert flow_run.name == "hourly 2026-10-26 08:00 → 12:00 Europe/Paris"
    report = next(artifact.data for artifact in artifacts if artifact.key == "hourly-run-report")
    assert "**Window** 2026-10-26 08:00 → 12:00 Europe/Paris (end exclusive)" in report
    assert_readable(messages)
    assert any(re.search(r"read [\d,]+ rows, rejected [\d,]+( \(.+\))?, bots", message) for message in messages)

    top = next(artifact.data for artifact in artifacts if artifact.key == "hourly-top-items")
    rows = json.loads(top) if isinstance(top, str) else top
    assert 0 < len(rows) <= 10
    for row in rows:
        assert list(row) == ["item", "views", "unique", "clicks", "tickets", "24 h", "bounce", "on page"]
        assert all(len(str(value)) <= 40 for value in row.values())
        assert re.fullmatch(r"[\d,]+", row["views"]) and re.fullmatch(r"(\d+%)?", row["bounce"])
    views = [int(row["views"].replace(",", "")) for row in rows]
    assert views == sorted(views, reverse=True)


@pytest.mark.usefixtures("prefect_server")
def test_the_cli_prints_the_run_as_a_person_reads_it(sampled: str, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main

    assert main(["run", "hourly", "--as-of", "2026-10-26T11:05:00Z", "--lookback-hours", "3"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("2026-10-26 08:00 → 12:00 Europe/Paris: read "), line
    assert_readable([line])
    assert "_" not in line, line  # reasons and period types in words, not as dict keys
