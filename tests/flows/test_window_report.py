"""Window reports: a backfill's totals are its chunks' reports merged, whether run now or recorded earlier."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

from flows.window import WindowReport
from flows.windows import Window


def chunk(day: int, read: int, written: dict[str, int], rejected: dict[str, int], items: list[str]) -> WindowReport:
    window = Window(datetime(2026, 9, day, tzinfo=UTC), datetime(2026, 9, day + 1, tzinfo=UTC), "UTC")
    return WindowReport(
        window,
        rows_read=read,
        rows_rejected=rejected,
        bot_rows=1,
        rows_written=written,
        items=items,
        seconds={"extract": 0.5, "write": 1.0},
    )


def test_merged_reports_add_up_and_span_both_windows() -> None:
    first = chunk(1, 100, {"hour": 24, "day": 1}, {"missing_item": 2}, ["a", "b"])
    second = chunk(3, 50, {"hour": 10}, {"unknown_type": 1}, ["b", "c"])
    total = first.merge(second)
    assert total.window.start == first.window.start and total.window.end == second.window.end
    assert (total.rows_read, total.bot_rows) == (150, 2)
    assert total.rows_written == {"hour": 34, "day": 1}
    assert total.rows_rejected == {"missing_item": 2, "unknown_type": 1}
    assert total.items == ["a", "b", "c"]
    assert total.seconds == {"extract": 1.0, "write": 2.0}


def test_a_recorded_chunk_reads_back_as_the_report_it_was_written_from() -> None:
    report = chunk(2, 80, {"hour": 5}, {"missing_item": 1}, ["x"])
    recorded = {
        "chunk_start": report.window.start.isoformat(),
        "chunk_end": report.window.end.isoformat(),
        "rows_read": 80,
        "rows_rejected": {"missing_item": 1},
        "bot_rows": 1,
        "rows_counted": 0,
        "rows_written": {"hour": 5},
        "items": ["x"],
        "extract_seconds": 0.5,
        "write_seconds": 1.0,
    }
    assert WindowReport.from_chunk(recorded, "UTC") == report
    empty = WindowReport(report.window)
    assert reduce(WindowReport.merge, [report, report], empty).rows_read == 160
