"""Drift between stored analytics and their invariants: what each kind means, how it reads, how it is repaired."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

# Each kind of drift is found by one set-based query, sql/queries/check_<kind>.sql.
DRIFT_KINDS = {
    "period_sums": "day/week/month/all_time counts differ from the sums of their hours",
    "breakdown_sums": "day/week/month/all_time breakdowns differ from the sums of their hours",
    "unique_counts": "unique counts differ from the distinct visitors in visitor state",
    "visitor_state": "all-time visitors disagree with visitor-hours (visitors per item)",
    "summaries": "summaries differ from their all_time rows",
    "breakdown_views": "traffic sources or device types do not add up to views",
    "bounds": "unique views above views, bounce rate outside [0, 1] or a negative count",
}
DRIFT = pl.Schema(
    {
        "kind": pl.String,
        "event_id": pl.String,
        "period_type": pl.String,
        "period_start": pl.Datetime("us", "UTC"),
        "drifted": pl.Int64,
    }
)
ITEMS_SHOWN = 5


@dataclass
class RepairPlan:
    """What a repair recomputes: all-time state, period rows, summaries; and hours only raw rows can mend."""

    rebuild_items: list[str] = field(default_factory=list)
    # period type -> item -> starts of its drifted periods
    roll_ups: dict[str, dict[str, list[datetime]]] = field(default_factory=dict)
    summary_items: list[str] = field(default_factory=list)
    # local day -> items whose hour rows of that day drifted
    backfill_days: dict[date, list[str]] = field(default_factory=dict)

    @property
    def items(self) -> list[str]:
        rolled = {item for by_item in self.roll_ups.values() for item in by_item}
        return sorted(set(self.rebuild_items) | rolled | set(self.summary_items))


def parse_event_ids(values: Sequence[str], command: str) -> list[str]:
    """Item ids as canonical UUID text, or ValueError naming the bad one."""
    items = set()
    for value in values:
        try:
            items.add(str(uuid.UUID(str(value).strip())))
        except ValueError:
            raise ValueError(f"{command}: event {value!r} is not a UUID; pass item ids like 0b3c2a9e-5d1f-4c8e-9a7b-2f6d1e0c4b5a") from None
    return sorted(items)


def summarise_drift(drift: pl.DataFrame) -> list[dict]:
    """Per kind that drifted: its description, drifted rows (or visitors), and its items, in kind order."""
    lines = []
    for kind, description in DRIFT_KINDS.items():
        found = drift.filter(pl.col("kind") == kind)
        if found.is_empty():
            continue
        items = sorted(found["event_id"].unique().to_list())
        lines.append({"kind": kind, "description": description, "rows": int(found["drifted"].sum()), "items": items})
    return lines


def format_drift_line(line: dict) -> str:
    """`check: period_sums: 3 rows in 2 items (a, b): day/week/... differ ...`"""
    items = line["items"]
    shown = ", ".join(items[:ITEMS_SHOWN]) + (f", … {len(items) - ITEMS_SHOWN} more" if len(items) > ITEMS_SHOWN else "")
    unit = "visitors" if line["kind"] == "visitor_state" else "rows"
    return f"check: {line['kind']}: {line['rows']:,} {unit} in {len(items):,} items ({shown}): {line['description']}"


def plan_repair(drift: pl.DataFrame, timezone_name: str) -> RepairPlan:
    """Which recomputation mends each drifted row: all-time state from hours and visitor-hours, periods
    from their hours, summaries from all_time rows; drifted hour rows need their raw rows again."""
    plan = RepairPlan()
    rebuild, summaries = set(), set()
    roll_ups: dict[str, dict[str, set[datetime]]] = defaultdict(lambda: defaultdict(set))
    backfill: dict[date, set[str]] = defaultdict(set)
    zone = ZoneInfo(timezone_name)
    for kind, item, period_type, period_start in drift.select("kind", "event_id", "period_type", "period_start").iter_rows():
        if kind == "visitor_state" or period_type == "all_time":
            rebuild.add(item)
        elif period_type == "summary":
            summaries.add(item)
        elif period_type == "hour":
            backfill[period_start.astimezone(zone).date()].add(item)
        else:
            roll_ups[period_type][item].add(period_start)
    plan.rebuild_items = sorted(rebuild)
    plan.roll_ups = {p: {item: sorted(starts) for item, starts in sorted(by_item.items())} for p, by_item in roll_ups.items()}
    # A rebuilt all_time row changes the summary's totals, so its summary is refreshed too.
    plan.summary_items = sorted(summaries | rebuild)
    plan.backfill_days = {day: sorted(items) for day, items in sorted(backfill.items())}
    return plan


def backfill_commands(plan: RepairPlan) -> list[str]:
    """The backfills that recompute drifted hour rows from raw rows, one per run of consecutive days."""
    commands = []
    days = sorted(plan.backfill_days)
    run: list[date] = []
    for day in days:
        if run and (day - run[-1]).days != 1:
            commands.append(_backfill_command(run, plan))
            run = []
        run.append(day)
    if run:
        commands.append(_backfill_command(run, plan))
    return commands


def _backfill_command(days: list[date], plan: RepairPlan) -> str:
    items = sorted({item for day in days for item in plan.backfill_days[day]})
    end = date.fromordinal(days[-1].toordinal() + 1)
    return f"analytics backfill --start {days[0]} --end {end} --event {' '.join(items)}"


def format_check_report(title: str, lines: list[dict], figures: dict) -> str:
    """The check as markdown: one table row per kind of drift, then what was repaired and what remains."""
    out = [f"# {title}", "", f"**Items checked** {figures['items_checked']:,}; **seconds** {figures['seconds']:.1f}", ""]
    if not lines:
        out.append("No drift: every stored invariant holds.")
    else:
        out += ["| kind | rows | items | what it means |", "|---|---:|---:|---|"]
        for line in lines:
            items = ", ".join(f"`{i}`" for i in line["items"][:ITEMS_SHOWN]) + (" …" if len(line["items"]) > ITEMS_SHOWN else "")
            out.append(f"| {line['kind']} | {line['rows']:,} | {len(line['items']):,} ({items}) | {line['description']} |")
    if figures.get("repaired_items") is not None:
        out += ["", f"**Repaired** {len(figures['repaired_items']):,} items from their hour rows and visitor state."]
        remaining = figures.get("remaining", [])
        out.append(
            "Nothing drifts after the repair."
            if not remaining
            else f"**Still drifting** after the repair: {', '.join(r['kind'] for r in remaining)}."
        )
    if figures.get("backfills"):
        out += ["", "Hour rows can only be recomputed from raw rows:", "", *[f"- `{c}`" for c in figures["backfills"]]]
    if figures.get("stale_rows") is not None:
        out += ["", f"**Stale rows** (computed under other definitions): {figures['stale_rows']:,}"]
    return "\n".join(out) + "\n"
