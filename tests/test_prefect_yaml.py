"""prefect.yaml checked offline: keys, entrypoints, parameters, schedules, pool and concurrency."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

# The models `prefect deploy` validates prefect.yaml with; private, but they are the only
# statement of which keys Prefect reads, and they ignore any other key without a word.
from prefect.cli.deploy._models import (
    ConcurrencyLimitSpec,
    DeploymentConfig,
    PrefectYamlModel,
    RawScheduleConfig,
    WorkPoolConfig,
)
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema
from prefect.utilities.importtools import import_object
from prefect.utilities.schema_tools.validation import validate
from prefect.workers.process import ProcessWorker
from pydantic import BaseModel, ValidationError

from flows.settings import SettingsError, validate_timezone

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"
POOL = "event-analytics"
QUEUE = "default"
REQUIRED_DEPLOYMENTS = {"hourly", "daily", "backfill", "retention", "check"}
STEP_RESERVED_KEYS = {"id", "requires"}


def load_prefect_yaml() -> dict[str, Any]:
    """prefect.yaml as plain data."""
    return yaml.safe_load(PREFECT_YAML.read_text())


def allowed_keys(model: type[BaseModel]) -> set[str]:
    """The keys a Prefect model reads, under the names they take in YAML."""
    return {field.alias or name for name, field in model.model_fields.items()}


def unknown_keys(mapping: Mapping[str, Any], model: type[BaseModel], where: str) -> list[str]:
    allowed = allowed_keys(model)
    return [
        f"{where}: unknown key {key!r} (Prefect would ignore it; known: {', '.join(sorted(allowed))})"
        for key in mapping
        if key not in allowed
    ]


@cache
def load_flow(entrypoint: str) -> Flow[..., Any]:
    """The flow an entrypoint names, resolved from the project root whatever the test's working directory."""
    path, name = entrypoint.rsplit(":", 1)
    # No placeholder flow: a module that fails to import must fail here, not at the first scheduled run.
    return load_flow_from_entrypoint(f"{ROOT / path}:{name}", use_placeholder_flow=False)


def check_steps(steps: Any, where: str) -> list[str]:
    """Each step is one importable function whose arguments bind to its inputs."""
    if steps is None:
        return []
    if not isinstance(steps, list):
        return [f"{where}: must be a list of steps"]
    problems = []
    for index, step in enumerate(steps):
        label = f"{where}[{index}]"
        if not isinstance(step, dict) or len(step) != 1:
            problems.append(f"{label}: a step is a mapping with exactly one key, the step function")
            continue
        ((function_name, inputs),) = step.items()
        try:
            function = import_object(function_name)
        except (ImportError, AttributeError, ValueError) as exc:
            problems.append(f"{label}: cannot import step {function_name!r}: {exc}")
            continue
        arguments = {k: v for k, v in (inputs or {}).items() if k not in STEP_RESERVED_KEYS}
        try:
            inspect.signature(function).bind(**arguments)
        except TypeError as exc:
            problems.append(f"{label}: inputs {sorted(arguments)} do not fit {function_name}: {exc}")
    return problems


def check_schedule(schedule: Any, where: str) -> list[str]:
    if not isinstance(schedule, dict):
        return [f"{where}: must be a mapping"]
    problems = unknown_keys(schedule, RawScheduleConfig, where)
    if problems:
        return problems
    try:
        RawScheduleConfig.model_validate(schedule)
    except ValidationError as exc:
        return [f"{where}: {exc}"]
    timezone = schedule.get("timezone")
    if timezone is None:
        # Without one Prefect picks UTC silently; the README tells users to set it to ANALYTICS_TIMEZONE.
        problems.append(f"{where}: no timezone; set it explicitly (an IANA name such as 'UTC')")
    else:
        try:
            validate_timezone(timezone)
        except SettingsError as exc:
            return problems + [f"{where}: {exc}"]
    if "cron" in schedule:
        try:
            CronSchedule(cron=schedule["cron"], timezone=timezone)
        except ValidationError as exc:
            problems.append(f"{where}: cron {schedule['cron']!r} rejected by Prefect: {exc.errors()[0]['msg']}")
    return problems


def check_parameters(flow: Flow[..., Any], parameters: Mapping[str, Any], scheduled: bool, where: str) -> list[str]:
    """Names exist in the flow's signature and values pass its schema, as the server enforces."""
    schema = parameter_schema(flow).model_dump_for_openapi()
    known = schema.get("properties", {})
    problems = [
        f"{where}: {name!r} is not a parameter of flow {flow.name!r} (it has {', '.join(known)})"
        for name in parameters
        if name not in known
    ]
    for error in validate(dict(parameters), schema, ignore_required=True):
        problems.append(f"{where}: {'.'.join(map(str, error.path)) or 'parameters'}: {error.message}")
    if scheduled:
        # A scheduled run gets only these values, so every parameter without a default must be here.
        missing = [name for name in schema.get("required", []) if name not in parameters]
        problems += [f"{where}: scheduled, but required parameter {name!r} has no value" for name in missing]
    return problems


def check_deployment(deployment: Any) -> list[str]:
    """Every problem of one deployment entry, as readable lines."""
    if not isinstance(deployment, dict):
        return ["deployments: each entry must be a mapping"]
    where = f"deployment {deployment.get('name')!r}"
    problems = unknown_keys(deployment, DeploymentConfig, where)
    if not deployment.get("name"):
        problems.append(f"{where}: no name (`prefect deploy --no-prompt` needs one)")
    if not deployment.get("description"):
        problems.append(f"{where}: no description")
    if POOL not in (deployment.get("tags") or []):
        problems.append(f"{where}: tags must include {POOL!r}")
    for section in ("build", "push"):
        if deployment.get(section):
            problems.append(f"{where}: {section} steps given, but the process worker runs the checkout in place")
    problems += check_steps(deployment.get("pull"), f"{where}: pull")

    work_pool = deployment.get("work_pool")
    if not isinstance(work_pool, dict):
        problems.append(f"{where}: work_pool must name the {POOL!r} pool")
    else:
        problems += unknown_keys(work_pool, WorkPoolConfig, f"{where}: work_pool")
        if work_pool.get("name") != POOL:
            problems.append(f"{where}: work_pool.name is {work_pool.get('name')!r}, expected {POOL!r}")
        if work_pool.get("work_queue_name") != QUEUE:
            problems.append(f"{where}: work_pool.work_queue_name is {work_pool.get('work_queue_name')!r}, expected {QUEUE!r}")
        process_variables = ProcessWorker.get_default_base_job_template()["variables"]["properties"]
        for name in work_pool.get("job_variables") or {}:
            if name not in process_variables:
                problems.append(f"{where}: job variable {name!r} is not one a process pool has ({', '.join(process_variables)})")

    limit = deployment.get("concurrency_limit")
    if isinstance(limit, dict):
        problems += unknown_keys(limit, ConcurrencyLimitSpec, f"{where}: concurrency_limit")
        limit = limit.get("limit")
    if limit != 1 or isinstance(limit, bool):
        problems.append(f"{where}: concurrency_limit is {limit!r}; it must be 1 so that runs never overlap")

    if "schedule" in deployment:
        problems.append(f"{where}: `schedule` is deprecated; use a `schedules` list")
    schedules = deployment.get("schedules") or []
    if not isinstance(schedules, list):
        problems.append(f"{where}: schedules must be a list")
        schedules = []
    for index, schedule in enumerate(schedules):
        problems += check_schedule(schedule, f"{where}: schedules[{index}]")

    entrypoint = deployment.get("entrypoint")
    if not isinstance(entrypoint, str) or ":" not in entrypoint:
        return problems + [f"{where}: entrypoint must be 'path/to/file.py:flow_function', got {entrypoint!r}"]
    path = Path(entrypoint.rsplit(":", 1)[0])
    if path.is_absolute() or not (ROOT / path).is_file():
        return problems + [f"{where}: entrypoint file {str(path)!r} is not a file relative to the project root"]
    try:
        flow = load_flow(entrypoint)
    except Exception as exc:  # any failure to import is the finding, whatever its type
        return problems + [f"{where}: entrypoint {entrypoint!r} does not load a flow: {type(exc).__name__}: {exc}"]
    parameters = deployment.get("parameters") or {}
    problems += check_parameters(flow, parameters, bool(schedules), f"{where}: parameters")
    for index, schedule in enumerate(schedules):
        if isinstance(schedule, dict) and schedule.get("parameters"):
            merged = {**parameters, **schedule["parameters"]}
            problems += check_parameters(flow, merged, True, f"{where}: schedules[{index}].parameters")
    return problems


def check_prefect_yaml(config: Any) -> list[str]:
    """Every problem of a loaded prefect.yaml, as readable lines; empty when it is right."""
    if not isinstance(config, dict):
        return ["prefect.yaml: the top level must be a mapping"]
    problems = unknown_keys(config, PrefectYamlModel, "prefect.yaml")
    try:
        PrefectYamlModel.model_validate(config)
    except ValidationError as exc:
        # `prefect deploy` prints a warning for this and then deploys nothing at all.
        first = exc.errors()[0]
        problems.append(
            f"prefect.yaml: rejected by Prefect's model ({exc.error_count()} errors), first at {'.'.join(map(str, first['loc']))}: {first['msg']}"
        )
    for section in ("build", "push"):
        if config.get(section):
            problems.append(f"prefect.yaml: {section} steps given, but the process worker runs the checkout in place")
    problems += check_steps(config.get("pull"), "prefect.yaml: pull")
    deployments = config.get("deployments")
    if not isinstance(deployments, list):
        return problems + ["prefect.yaml: deployments must be a list"]
    names = [d.get("name") for d in deployments if isinstance(d, dict)]
    problems += [f"prefect.yaml: deployment name {name!r} used twice" for name in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"prefect.yaml: no {name!r} deployment" for name in sorted(REQUIRED_DEPLOYMENTS - set(names))]
    for deployment in deployments:
        problems += check_deployment(deployment)
    return problems


def test_prefect_yaml_has_no_problems() -> None:
    problems = check_prefect_yaml(load_prefect_yaml())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("deployment", load_prefect_yaml()["deployments"], ids=lambda d: d.get("name"))
def test_deployment_entry(deployment: dict[str, Any]) -> None:
    """Each deployment on its own, so that a failure names the deployment."""
    problems = check_deployment(deployment)
    assert not problems, "\n".join(problems)


def test_readme_creates_the_pool_as_a_process_pool() -> None:
    """The pool type is not in prefect.yaml; the documented command that creates it is the contract."""
    assert f"uv run prefect work-pool create {POOL} --type process" in (ROOT / "README.md").read_text()


def deployment_named(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in config["deployments"] if d["name"] == name)


def rename_key(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


MUTATIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("top-level typo", lambda c: rename_key(c, "pull", "pul"), "unknown key 'pul'"),
    (
        "deployment typo",
        lambda c: rename_key(deployment_named(c, "hourly"), "concurrency_limit", "concurrency_limt"),
        "unknown key 'concurrency_limt'",
    ),
    (
        "work pool typo",
        lambda c: rename_key(deployment_named(c, "daily")["work_pool"], "work_queue_name", "work_queue"),
        "unknown key 'work_queue'",
    ),
    ("schedule typo", lambda c: rename_key(deployment_named(c, "daily")["schedules"][0], "timezone", "timezon"), "unknown key 'timezon'"),
    (
        "pull step input typo",
        lambda c: rename_key(c["pull"][0]["prefect.deployments.steps.set_working_directory"], "directory", "directry"),
        "do not fit",
    ),
    ("bad cron", lambda c: deployment_named(c, "hourly")["schedules"][0].update(cron="61 * * * *"), "cron '61 * * * *'"),
    ("bad time zone", lambda c: deployment_named(c, "daily")["schedules"][0].update(timezone="Europe/Pariss"), "'Europe/Pariss'"),
    (
        "unknown parameter",
        lambda c: deployment_named(c, "hourly")["parameters"].update(lookback_hour=3),
        "'lookback_hour' is not a parameter",
    ),
    ("parameter of the wrong type", lambda c: deployment_named(c, "hourly")["parameters"].update(lookback_hours="three"), "'three'"),
    ("concurrency above one", lambda c: deployment_named(c, "daily").update(concurrency_limit=2), "concurrency_limit is 2"),
    ("missing flow function", lambda c: deployment_named(c, "hourly").update(entrypoint="flows/runs.py:hourli"), "does not load a flow"),
    ("other pool", lambda c: deployment_named(c, "hourly")["work_pool"].update(name="default"), "work_pool.name is 'default'"),
    ("build step", lambda c: c.update(build=[{"prefect.deployments.steps.run_shell_script": {"script": "true"}}]), "build steps given"),
    ("missing deployment", lambda c: c["deployments"].remove(deployment_named(c, "daily")), "no 'daily' deployment"),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in MUTATIONS], ids=[name for name, _, _ in MUTATIONS])
def test_checker_reports_a_broken_copy(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    """The checker itself: a copy of prefect.yaml with one mistake must be reported, naming the mistake."""
    config = copy.deepcopy(load_prefect_yaml())
    mutate(config)
    problems = check_prefect_yaml(config)
    assert any(expected in problem for problem in problems), "\n".join(problems) or "no problem reported"
