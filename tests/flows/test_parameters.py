"""Bad parameters and settings answer in one line, exit 2, before any server or database is touched; a future as_of is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from data.sample import generate_sample
from flows.cli import main
from flows.database import start_embedded_server, stop_embedded_server
from flows.parameters import AS_OF_TOLERANCE, BackfillError, ParameterError, check_as_of, local_day_bounds, validate_backfill
from flows.runs import daily, hourly
from flows.settings import Settings, load_settings

# Nothing listens on port 1: a command that got as far as the database would exit 1, not 2.
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/unreachable"
FUTURE = "2100-01-01T00:00:00Z"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)


def one_line_refusal(capsys: pytest.CaptureFixture[str], prefix: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(prefix) and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    "argv",
    [["run", "hourly"], ["run", "daily"], ["retention"], ["retention", "--dry-run"]],
    ids=["hourly", "daily", "retention", "retention-dry-run"],
)
def test_a_future_as_of_is_refused_before_anything_is_read(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--as-of", FUTURE]) == 2
    err = one_line_refusal(
        capsys, f"analytics {' '.join(a for a in argv if a != '--dry-run')}: --as-of 2100-01-01 00:00 UTC is in the future"
    )
    assert "leave --as-of out" in err


def test_an_as_of_within_the_tolerance_passes_and_one_beyond_it_does_not() -> None:
    now = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    assert check_as_of(now + AS_OF_TOLERANCE, now, "hourly") == now + AS_OF_TOLERANCE
    assert check_as_of(datetime(2026, 11, 26, 14, 3), now, "hourly") == datetime(2026, 11, 26, 14, 3, tzinfo=UTC)
    with pytest.raises(ParameterError, match="hourly: as_of 2026-11-26 14:06 UTC is in the future"):
        check_as_of(now + AS_OF_TOLERANCE + timedelta(minutes=1), now, "hourly")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("as_of", "message"),
    [("1969-12-31T23:00:00Z", "is before 1970-01-01 00:00 UTC"), ("0001-01-01T00:00:00+01:00", "lies outside the calendar")],
    ids=["before-epoch", "year-1"],
)
def test_an_as_of_before_the_calendar_is_refused(as_of: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "hourly", "--as-of", as_of]) == 2
    assert message in one_line_refusal(capsys, "analytics run hourly: --as-of")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("hours", ["-1", "169", "three"], ids=["negative", "above-a-week", "not-a-number"])
def test_lookback_hours_outside_0_to_168_is_refused_in_one_line(hours: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "hourly", "--lookback-hours", hours])
    assert exited.value.code == 2
    assert "argument --lookback-hours" in one_line_refusal(capsys, "analytics run: ")


@pytest.mark.usefixtures("unreachable")
def test_the_daily_run_refuses_a_lookback_instead_of_ignoring_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "daily", "--lookback-hours", "2"]) == 2
    assert "for the hourly run only" in one_line_refusal(capsys, "analytics run daily: --lookback-hours")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ANALYTICS_BACKFILL_WORKERS", "0", "ANALYTICS_BACKFILL_WORKERS=0 is below 1; set it to 1..64"),
        ("ANALYTICS_BACKFILL_WORKERS", "65", "ANALYTICS_BACKFILL_WORKERS=65 is above 64"),
        ("ANALYTICS_WRITE_SHARDS", "0", "ANALYTICS_WRITE_SHARDS=0 is below 1; set it to 1..64"),
        ("ANALYTICS_WRITE_SHARDS", "65", "ANALYTICS_WRITE_SHARDS=65 is above 64"),
        ("ANALYTICS_VISIT_GAP_MINUTES", "999999999999999", "ANALYTICS_VISIT_GAP_MINUTES=999999999999999 is above 120 minutes"),
        ("ANALYTICS_HOURLY_LOOKBACK_HOURS", "169", "ANALYTICS_HOURLY_LOOKBACK_HOURS=169 is above 168 hours"),
        ("ANALYTICS_STATEMENT_TIMEOUT_SECONDS", "86401", "ANALYTICS_STATEMENT_TIMEOUT_SECONDS=86401 is above 86400 seconds"),
        ("ANALYTICS_RETENTION_DAYS", "0", "ANALYTICS_RETENTION_DAYS=0 is below 1"),
        ("ANALYTICS_ANONYMISE_AFTER_DAYS", "99999999", "ANALYTICS_ANONYMISE_AFTER_DAYS=99999999 is above 36500 days"),
        ("ANALYTICS_TIMEZONE", "right/UTC", "time zone 'right/UTC' is a system zone file, not a zone Polars knows"),
        ("ANALYTICS_TIMEZONE", "posix/Europe/Paris", "time zone 'posix/Europe/Paris' is a system zone file"),
        ("ANALYTICS_TIMEZONE", "Factory", "time zone 'Factory' is a system zone file"),
    ],
    ids=[
        "workers-0",
        "workers-65",
        "shards-0",
        "shards-65",
        "visit-gap",
        "lookback",
        "statement-timeout",
        "retention",
        "anonymise",
        "right-utc",
        "posix-paris",
        "factory",
    ],
)
def test_settings_out_of_range_are_refused_in_one_line(
    variable: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["backfill", "--start", "2026-09-01", "--end", "2026-09-02"]) == 2
    assert message in one_line_refusal(capsys, "analytics: ")


def test_the_visit_gap_limit_is_the_context_read_around_each_window() -> None:
    from flows.settings import SETTING_RANGES
    from flows.window import VISIT_CONTEXT

    assert timedelta(minutes=SETTING_RANGES["ANALYTICS_VISIT_GAP_MINUTES"][1]) <= VISIT_CONTEXT


def test_importing_the_backfill_flow_survives_a_bad_worker_count() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import flows.backfill"],
        cwd=ROOT,
        env={**os.environ, "ANALYTICS_BACKFILL_WORKERS": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("unreachable")
def test_anonymising_later_than_archiving_is_refused_once_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANALYTICS_ANONYMISE_AFTER_DAYS", "120")
    assert main(["retention"]) == 2
    err = one_line_refusal(capsys, "analytics: ANALYTICS_ANONYMISE_AFTER_DAYS=120 is above ANALYTICS_RETENTION_DAYS=90")
    assert "retention: retention" not in err and "set it to 90 or less" in err


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--start", "1900-01-01", "--end", "2026-01-01"],
            "start 1900-01-01 is before 1970-01-01, the first day the analytics calendar places in UTC",
        ),
        (["--start", "0001-01-01", "--end", "2026-01-01"], "start 0001-01-01 is before 1970-01-01"),
        (
            ["--start", "2010-01-01", "--end", "2026-01-01"],
            "the range 2010-01-01 → 2026-01-01 is 5,844 days; one backfill covers at most 3,700",
        ),
        (
            ["--start", "2026-01-01", "--end", "2026-03-01", "--chunk", "60d"],
            "chunk 60 is outside 1..31 days (a chunk's raw rows are held in memory at once); pass e.g. 1d or 7d, or auto",
        ),
    ],
    ids=["1900", "year-1", "sixteen-years", "chunk-60d"],
)
def test_unbounded_backfills_are_refused_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", *argv]) == 2
    assert message in one_line_refusal(capsys, "analytics backfill: ")


def test_the_first_local_day_starts_at_or_after_the_epoch() -> None:
    assert local_day_bounds("UTC") == (date(1970, 1, 1), date(2200, 1, 1))
    # Paris was at UTC+1 in 1970: its 1970-01-01 began an hour before the epoch.
    assert local_day_bounds("Europe/Paris")[0] == date(1970, 1, 2)
    assert local_day_bounds("America/New_York") == (date(1970, 1, 1), date(2199, 12, 31))
    with pytest.raises(BackfillError, match="start 1970-01-01 is before 1970-01-02"):
        validate_backfill(date(1970, 1, 1), date(1970, 2, 1), ["day"], None, date(2026, 11, 26), "Europe/Paris")


@pytest.mark.parametrize(
    ("argv", "environ", "absent"),
    [
        (["backfill", "--start", "2026-09-02", "--end", "2026-09-01"], {}, ("prefect", "polars", "psycopg", "duckdb")),
        (["run", "hourly", "--as-of", FUTURE], {}, ("prefect", "polars", "psycopg", "duckdb")),
        (["retention", "--as-of", FUTURE], {"DATABASE_URL": UNREACHABLE}, ("prefect", "polars", "psycopg", "duckdb")),
        (
            ["backfill", "--start", "2026-09-02", "--end", "2026-09-01"],
            {"DATABASE_URL": UNREACHABLE, "ANALYTICS_TIMEZONE": "Europe/Paris"},
            ("prefect", "polars", "psycopg", "duckdb"),
        ),
        (
            ["backfill", "--start", "2026-09-01", "--end", "2026-09-02"],
            {"ANALYTICS_BACKFILL_WORKERS": "0", "DATABASE_URL": UNREACHABLE, "ANALYTICS_TIMEZONE": "Europe/Paris"},
            ("prefect", "polars", "psycopg", "duckdb"),
        ),
        (["backfill", "--start", "1900-01-01", "--end", "2026-01-01"], {"DATABASE_URL": UNREACHABLE}, ("prefect", "polars", "duckdb")),
    ],
    ids=["backfill-order", "future-as-of", "retention-future", "with-database-url-and-zone", "bad-setting", "date-bounds"],
)
def test_parameter_errors_answer_before_prefect_polars_or_the_database_load(
    argv: list[str], environ: dict[str, str], absent: tuple[str, ...], tmp_path: Path
) -> None:
    script = (
        "import json, sys\nfrom flows.cli import main\n"
        f"code = main({argv!r})\n"
        f"print(json.dumps([code, sorted(m for m in {list(absent)!r} if m in sys.modules)]))"
    )
    # A home of its own: were an embedded server started after all, it would not be the worktree's.
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_") and k != "DATABASE_URL"}
        | {"ANALYTICS_HOME": str(tmp_path)}
        | environ
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert loaded == [], f"loaded before answering: {loaded}"


def test_db_url_prints_the_embedded_address_without_starting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    try:
        assert main(["db", "url"]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip() == f"postgresql://postgres:@/analytics?host={tmp_path / 'pgdata'}"
        assert "not running" in captured.err
        assert not (tmp_path / "pgdata").exists()
    finally:
        stop_embedded_server(Settings(home=tmp_path))


def test_db_url_says_when_the_embedded_server_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Not under tmp_path, as in conftest: the server's own user must reach its data directory.
    settings = Settings(home=Path(tempfile.mkdtemp(prefix="analytics-db-url-")))
    settings.home.chmod(0o755)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ANALYTICS_HOME", str(settings.home))
    try:
        url = start_embedded_server(settings)
        assert main(["db", "url"]) == 0
        captured = capsys.readouterr()
        assert captured.out.strip() == url
        assert captured.err.strip() == f"embedded PostgreSQL in {settings.embedded_data_dir}: running"
    finally:
        stop_embedded_server(settings)
        shutil.rmtree(settings.home, ignore_errors=True)


def test_unreachable_database_message_is_one_clean_line(unreachable: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate"]) == 1
    err = one_line_refusal(capsys, "analytics: cannot reach the database at postgresql://postgres@127.0.0.1:1/unreachable")
    assert "\t" not in err and "Connection refused" in err


def test_generate_twice_with_one_seed_says_the_data_is_there(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--rows", "300", "--days", "2", "--items", "3", "--seed", "7"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    err = one_line_refusal(capsys, "analytics generate: the sample data of seed 7 is already in the database")
    assert "--seed 8" in err
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from event_analytics_events").fetchone()[0] == 300
    assert main([*argv[:-1], "8"]) == 0


def test_generate_spreads_rows_evenly_when_asked_and_refuses_an_unknown_spread(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--rows", "4000", "--days", "2", "--items", "4", "--seed", "7", "--end", "2026-01-03T00:00:00Z"]
    assert main([*argv, "--spread", "even"]) == 0
    with psycopg.connect(database_url) as conn:
        per_item = [n for (n,) in conn.execute("select count(*) from event_analytics_events where event_id is not null group by event_id")]
    assert len(per_item) == 4 and max(per_item) < 1.5 * min(per_item)
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main([*argv, "--spread", "uniform"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("analytics generate: argument --spread: invalid choice: 'uniform'") and err.count("\n") == 1
    assert "natural" in err and "even" in err


def test_a_backfill_of_a_range_without_rows_says_so_and_writes_nothing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    assert main(["backfill", "--start", "2026-01-01", "--end", "2026-01-08"]) == 0
    assert "no raw rows in the database or the archive" in capsys.readouterr().out
    with psycopg.connect(database_url) as conn:
        assert conn.execute("select count(*) from event_analytics_backfills").fetchone()[0] == 0


def test_a_range_has_work_when_it_holds_rows_or_figures_of_the_items_asked(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.cli import backfill_has_work

    monkeypatch.setenv("ANALYTICS_ARCHIVE_ROOT", str(tmp_path / "archive"))
    settings = load_settings()
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=500, days=2, seed=3, end=datetime(2026, 1, 3, tzinfo=UTC), items=3)
        item = str(conn.execute("select id from events limit 1").fetchone()[0])
    assert backfill_has_work(settings, date(2026, 1, 1), date(2026, 1, 3), None)
    assert backfill_has_work(settings, date(2026, 1, 1), date(2026, 1, 3), [item])
    assert not backfill_has_work(settings, date(2026, 1, 1), date(2026, 1, 3), ["0b3c2a9e-5d1f-4c8e-9a7b-2f6d1e0c4b5a"])
    assert not backfill_has_work(settings, date(2025, 1, 1), date(2025, 1, 3), None)
    (tmp_path / "archive" / "month=2025-01").mkdir(parents=True)
    (tmp_path / "archive" / "month=2025-01" / "part-0001.parquet").write_bytes(b"")
    assert backfill_has_work(settings, date(2025, 1, 1), date(2025, 1, 3), None)


# --- the same refusals inside the flows (a deployment passes parameters without the CLI) -------------


@pytest.fixture
def summarised(database_url: str) -> str:
    """Sample rows and the figures of one normal hourly run over them."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=2_000, days=1, seed=5, end=end, items=5)
    hourly(as_of=end, lookback_hours=23)
    return database_url


def analytics_state(url: str) -> tuple[list[tuple], list[tuple], int]:
    with psycopg.connect(url) as conn:
        summary = conn.execute(
            "select event_id, total_views, views_24h, last_view_at, updated_at from event_analytics_summary order by 1"
        ).fetchall()
        periods = conn.execute(
            "select event_id, period_type, period_start, views_count, updated_at from event_analytics order by 1, 2, 3"
        ).fetchall()
        runs = conn.execute("select count(*) from event_analytics_runs").fetchone()[0]
    return summary, periods, runs


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(
    ("flow", "parameters", "message"),
    [
        (hourly, {"as_of": datetime(2100, 1, 1, tzinfo=UTC)}, "hourly: as_of 2100-01-01 00:00 UTC is in the future"),
        (daily, {"as_of": datetime(2100, 1, 1, tzinfo=UTC)}, "daily: as_of 2100-01-01 00:00 UTC is in the future"),
        (hourly, {"lookback_hours": -1}, "hourly: lookback_hours -1 is outside 0..168 hours"),
    ],
    ids=["hourly-future", "daily-future", "hourly-negative-lookback"],
)
def test_the_flows_refuse_bad_parameters_before_any_task_runs(summarised: str, flow, parameters: dict, message: str) -> None:
    before = analytics_state(summarised)
    assert before[0], "the normal run wrote summaries"
    with pytest.raises(ParameterError, match=message):
        flow(**parameters)
    assert analytics_state(summarised) == before
