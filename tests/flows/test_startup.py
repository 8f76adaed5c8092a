"""The program's start and end: commands that pause the garbage collector for their imports get it back before their work."""

from __future__ import annotations

import gc
import inspect

import pytest

from flows import cli

# What each command needs to parse, beyond its name.
REQUIRED_ARGUMENTS = {"run": ["hourly"]}


@pytest.fixture
def collector_restored():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("collector_restored")
@pytest.mark.parametrize(("paused", "sets_aside"), [(True, True), (False, False)], ids=["paused", "running"])
def test_start_work_resumes_a_paused_collector_with_the_imports_set_aside(paused: bool, sets_aside: bool) -> None:
    # A paused collector (a command's start) resumes with what exists set aside; a running one is left as it is.
    gc.unfreeze()
    if paused:
        gc.disable()
    else:
        gc.enable()
    cli.start_work()
    assert gc.isenabled()
    assert (gc.get_freeze_count() > 0) is sets_aside


@pytest.mark.parametrize("command", sorted(cli.PAUSED_START))
def test_every_command_that_starts_paused_resumes_the_collector(command: str) -> None:
    # A command listed here runs with the collector off until it calls start_work: one that never
    # did would run its whole work, a long backfill or the demo, with garbage never collected.
    parser = cli.build_parser()
    handler = parser.parse_args([command, *REQUIRED_ARGUMENTS.get(command, [])]).handler
    assert "start_work()" in inspect.getsource(handler), f"analytics {command} never calls start_work()"


def test_commands_called_from_python_leave_the_collector_alone(capsys: pytest.CaptureFixture[str]) -> None:
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--start", "2026-02-01", "--end", "2026-01-01", "--help"])
    capsys.readouterr()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
