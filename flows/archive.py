"""The Parquet archive of raw rows past retention: month partitions written atomically, checked, read and queried."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import polars as pl

from flows.sql import load_sql
from flows.windows import ensure_utc
from transforms.schemas import RAW_EVENTS, RAW_TABLE_ROWS, UTC_TIME

# One archived raw row: every column of event_analytics_events, as text where Parquet has no
# matching type, so that a backfill can recompute anything from the archive.
ARCHIVED_EVENTS = RAW_TABLE_ROWS

PARTITION_KEY = "month"
PART_GLOB = "part-*.parquet"
# Files being written; a crash can leave one behind, which the next write of its month removes.
TEMPORARY_PREFIX = ".tmp-"
# Parts that failed verification: out of the archive (no glob matches them), kept for inspection.
REJECTED_PREFIX = ".rejected-"
# Each month folder lists its parts with the sha256 and row count they had when written; only listed
# parts whose bytes still match are read into figures. The list lives next to the parts rather than
# in the database so that the archive, kept for good, checks itself wherever it is copied or
# restored, and `archive query` can check it without a database; it is written atomically, after
# the part it adds and before any row of that part is deleted.
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1

# Analysts' queries: rows printed at most, seconds before the query is interrupted, and DuckDB's
# memory (with no spilling to disk), so that one query can neither hang nor exhaust the machine.
DEFAULT_QUERY_LIMIT = 1_000
DEFAULT_QUERY_TIMEOUT_SECONDS = 60
QUERY_MEMORY_LIMIT = "1GB"

logger = logging.getLogger(__name__)

_DUCKDB_TYPES = {pl.String: "varchar", UTC_TIME: "timestamptz"}


class ArchiveError(RuntimeError):
    """The archive cannot be written, read or trusted; the message says which month and what to do."""


class ArchiveVerificationError(ArchiveError):
    """Rows read back from the archive differ from the rows selected for it."""


class ArchiveQueryError(ArchiveError):
    """An analyst's query over the archive failed; the message is DuckDB's first line."""


class ArchiveIntegrityError(ArchiveError):
    """A part differs from what was recorded when it was written, or is missing; the message names the file."""


@dataclass(frozen=True)
class PartRecord:
    """What a part held when it was written: the sha256 of its bytes, its rows and its size."""

    sha256: str
    rows: int
    bytes: int


class ArchiveAnswer(NamedTuple):
    """An analyst's query result: column names, at most `limit` rows, and whether more rows were left out."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool


@dataclass(frozen=True)
class Checksum:
    """Row count and md5 digest of a set of archived-shape rows (see retention_checksum_archived_rows.sql)."""

    rows: int
    digest: str


@dataclass(frozen=True)
class ArchivedMonth:
    """What archiving one month's selected rows did: rows already there, rows written and the file."""

    month: str
    rows_selected: int
    rows_already_archived: int
    rows_written: int
    path: Path | None


def month_of(moment: datetime) -> str:
    """The UTC month of an instant as YYYY-MM, the archive's partition value."""
    return ensure_utc(moment).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a YYYY-MM month, in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ArchiveError(f"archive month {month!r} is not YYYY-MM; pass e.g. '2026-05'") from None
    following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start, following


def months_overlapping(start: datetime, end: datetime) -> list[str]:
    """The UTC months that [start, end) touches, oldest first."""
    start, end = ensure_utc(start), ensure_utc(end)
    months = []
    month = month_of(start)
    while start < end:
        months.append(month)
        start = month_bounds(month)[1]
        month = month_of(start)
    return months


def partition_dir(archive_root: Path, month: str) -> Path:
    """The folder holding one month's parts."""
    return Path(archive_root) / f"{PARTITION_KEY}={month}"


def partition_files(archive_root: Path, month: str) -> list[Path]:
    """The complete part files of one month (never temporary ones), by name."""
    return sorted(partition_dir(archive_root, month).glob(PART_GLOB))


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(archive_root: Path, month: str) -> Path:
    return partition_dir(archive_root, month) / MANIFEST_NAME


def read_manifest(archive_root: Path, month: str) -> dict[str, PartRecord] | None:
    """The month's listed parts by file name, or None when the folder has no manifest."""
    path = manifest_path(archive_root, month)
    try:
        document = json.loads(path.read_text())
        return {name: PartRecord(**record) for name, record in document["parts"].items()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveIntegrityError(
            f"archive manifest {path} cannot be read ({type(exc).__name__}: {exc}); restore it from a backup, then rerun"
        ) from None


def verified_parts(archive_root: Path, month: str) -> list[Path]:
    """The month's listed parts, each checked against the checksum recorded when it was written.

    Raises ArchiveIntegrityError naming the file when a listed part is missing or differs; parts
    not listed (a copy, or a write that died before it was listed) are left out with a warning.
    """
    directory = partition_dir(archive_root, month)
    on_disk = partition_files(archive_root, month)
    manifest = read_manifest(archive_root, month)
    if manifest is None:
        if on_disk:
            raise ArchiveIntegrityError(
                f"archive folder {directory} holds {len(on_disk)} parts but no {MANIFEST_NAME}, so none can be verified; "
                f"restore {MANIFEST_NAME} from a backup (or, for parts written before checksums were recorded, check them "
                f"and run `uv run python -m flows.archive record {directory}`), then rerun"
            )
        return []
    for path in on_disk:
        if path.name not in manifest:
            logger.warning(
                "archive part %s is not in the manifest %s: left out (a copy, or a write that did not finish; "
                "listed parts and the database hold its rows); remove it once checked",
                path,
                manifest_path(archive_root, month),
            )
    parts = [directory / name for name in sorted(manifest)]
    for path in parts:
        problem = _part_problem(path, manifest[path.name])
        if problem:
            raise ArchiveIntegrityError(
                f"archive part {path} {problem}, so figures read from it would be wrong and nothing was read; "
                "restore it from a backup (its rows are no longer in the database), then rerun"
            )
    return parts


def check_archive(archive_root: Path) -> list[str]:
    """One line per part that fails verification, is missing or is not listed, over every month folder."""
    problems = []
    for directory in sorted(Path(archive_root).glob(f"{PARTITION_KEY}=*")):
        month = directory.name.removeprefix(f"{PARTITION_KEY}=")
        on_disk = partition_files(archive_root, month)
        try:
            manifest = read_manifest(archive_root, month)
        except ArchiveIntegrityError as exc:
            problems.append(str(exc))
            continue
        if manifest is None:
            problems += [f"{path} is not verified: its folder has no {MANIFEST_NAME}" for path in on_disk]
            continue
        problems += [
            f"{path} is not in the manifest (a copy, or a write that did not finish)" for path in on_disk if path.name not in manifest
        ]
        for name, record in sorted(manifest.items()):
            problem = _part_problem(directory / name, record)
            if problem:
                problems.append(f"{directory / name} fails verification: it {problem}")
    return problems


def record_unlisted_parts(archive_root: Path, month: str) -> list[str]:
    """List the month's parts missing from its manifest with their current checksums (for parts written before
    checksums were recorded, once checked by hand); return their names."""
    directory = partition_dir(archive_root, month)
    manifest = read_manifest(archive_root, month) or {}
    added = [path for path in partition_files(archive_root, month) if path.name not in manifest]
    for path in added:
        manifest[path.name] = _record_of(path, pl.scan_parquet(path).select(pl.len()).collect().item())
    _write_manifest(directory, manifest)
    return [path.name for path in added]


def _part_problem(path: Path, record: PartRecord) -> str | None:
    """How a part differs from its record, in words, or None when it matches."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"is missing (listed with {record.rows} rows)"
    found = file_sha256(path)
    if found != record.sha256 or size != record.bytes:
        return (
            f"has sha256 checksum {found[:16]}… ({size} bytes) where {record.sha256[:16]}… ({record.bytes} bytes, "
            f"{record.rows} rows) was recorded when it was written: it was edited or damaged"
        )
    return None


def _record_of(path: Path, rows: int) -> PartRecord:
    return PartRecord(sha256=file_sha256(path), rows=rows, bytes=path.stat().st_size)


def _write_manifest(directory: Path, parts: dict[str, PartRecord]) -> None:
    """Replace the folder's manifest atomically and durably."""
    document = {
        "format": MANIFEST_FORMAT,
        "parts": {name: {"sha256": r.sha256, "rows": r.rows, "bytes": r.bytes} for name, r in sorted(parts.items())},
    }
    path = directory / MANIFEST_NAME
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{MANIFEST_NAME}.writing")
    try:
        with open(temporary, "w") as handle:
            json.dump(document, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ArchiveError(
            f"cannot write archive manifest {path} ({exc.strerror or exc}); free space or fix permissions, then rerun"
        ) from None
    _fsync_dir(directory)


def read_archived_rows(archive_root: Path, month: str, ids: pl.Series | None = None) -> pl.DataFrame:
    """Verified archived rows of one month, each id once, only those in `ids` when given, in the ARCHIVED_EVENTS shape."""
    files = verified_parts(archive_root, month)
    if not files:
        return pl.DataFrame(schema=ARCHIVED_EVENTS)
    scan = pl.scan_parquet(files, hive_partitioning=False).select(ARCHIVED_EVENTS.names())
    if ids is not None:
        scan = scan.filter(pl.col("id").is_in(ids.implode()))
    return scan.unique("id", keep="first", maintain_order=True).collect().cast(ARCHIVED_EVENTS)


def read_archived_ids(archive_root: Path, month: str) -> pl.Series:
    """Ids of every row archived (and verified) for one month, each once."""
    files = verified_parts(archive_root, month)
    if not files:
        return pl.Series("id", [], dtype=pl.String)
    return pl.scan_parquet(files, hive_partitioning=False).select("id").unique(maintain_order=True).collect().get_column("id")


def checksum_rows(rows: pl.DataFrame) -> Checksum:
    """Count and checksum of rows in the ARCHIVED_EVENTS shape, defined as PostgreSQL computes it on delete."""
    import duckdb  # Here: 0.12 s to import, and only retention and archive queries use it.

    with duckdb.connect() as conn:
        conn.register("rows_to_check", rows.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS).to_arrow())
        count, digest = conn.execute(load_sql("retention_checksum_archived_rows")).fetchone()
    return Checksum(rows=count, digest=digest)


def part_name(rows: pl.DataFrame) -> str:
    """A name fixed by the rows' time range and id set, so rewriting the same rows gives the same file."""
    ids = rows.get_column("id").sort()
    digest = hashlib.blake2b("\n".join(ids.to_list()).encode(), digest_size=6).hexdigest()
    first, last = rows.get_column("timestamp").min(), rows.get_column("timestamp").max()
    return f"part-{first:%Y%m%dT%H%M%S}Z-{last:%Y%m%dT%H%M%S}Z-{digest}.parquet"


def archive_month(archive_root: Path, month: str, rows: pl.DataFrame) -> ArchivedMonth:
    """Write the month's selected rows not archived yet to one new part, atomically and durably."""
    already = rows.get_column("id").is_in(read_archived_ids(archive_root, month).implode())
    new_rows = rows.filter(~already)
    directory = partition_dir(archive_root, month)
    _remove_temporary_files(directory)
    path = None
    if new_rows.height:
        _make_durable_dir(directory)
        manifest = read_manifest(archive_root, month)
        if manifest is None:
            # Listed empty first, so a crash before the part is listed leaves an unlisted part
            # (left out with a warning; its rows are still in the database), not an unverifiable folder.
            manifest = {}
            _write_manifest(directory, manifest)
        path = directory / part_name(new_rows)
        _write_parquet_atomically(new_rows.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS).sort("timestamp", "id"), path)
        # Recorded from the bytes on disk, before any of these rows can be deleted.
        manifest[path.name] = _record_of(path, new_rows.height)
        _write_manifest(directory, manifest)
    return ArchivedMonth(
        month=month,
        rows_selected=rows.height,
        rows_already_archived=int(already.sum()),
        rows_written=new_rows.height,
        path=path,
    )


def verify_month(archive_root: Path, month: str, rows: pl.DataFrame) -> Checksum:
    """Read the selected rows back from the month's parts; return their checksum, or raise if they differ."""
    expected = checksum_rows(rows)
    archived = read_archived_rows(archive_root, month, rows.get_column("id"))
    found = checksum_rows(archived)
    if found != expected:
        raise ArchiveVerificationError(
            f"archive {partition_dir(archive_root, month)}: read back {found.rows} rows (checksum {found.digest}), "
            f"selected {expected.rows} (checksum {expected.digest}); {_describe_difference(rows, archived)}. "
            "Nothing was deleted. Rerun retention; if this persists, an older part of the month holds other copies "
            "of these rows: a part whose rows are all still in the database can be removed"
        )
    return found


def reject_part(path: Path) -> Path:
    """Move a part that failed verification out of the archive (kept aside for inspection); return its new path."""
    manifest = read_manifest(path.parent.parent, path.parent.name.removeprefix(f"{PARTITION_KEY}=")) or {}
    if manifest.pop(path.name, None) is not None:
        _write_manifest(path.parent, manifest)
    rejected = path.with_name(f"{REJECTED_PREFIX}{path.name}")
    os.replace(path, rejected)
    _fsync_dir(path.parent)
    return rejected


def read_archived_events(archive_root: Path, start: datetime, end: datetime, exclude_ids: pl.Series | None = None) -> pl.DataFrame:
    """Verified archived rows with start <= timestamp < end, each id once, in the RAW_EVENTS shape (only
    overlapping months are read).

    `exclude_ids` leaves out rows still in the database too (archived, not yet deleted).
    """
    start, end = ensure_utc(start), ensure_utc(end)
    files = [path for month in months_overlapping(start, end) for path in verified_parts(archive_root, month)]
    if not files:
        return pl.DataFrame(schema=RAW_EVENTS)
    metadata = pl.col("metadata").str
    frame = (
        pl.scan_parquet(files, hive_partitioning=False)
        .filter(pl.col("timestamp") >= start, pl.col("timestamp") < end)
        .filter(~pl.col("id").is_in(exclude_ids.implode()) if exclude_ids is not None else pl.lit(True))
        .unique("id", keep="first", maintain_order=True)
        .select(
            "event_id",
            "event_type",
            pl.coalesce("user_id", "session_id").alias("visitor_key"),
            "referrer",
            "user_agent",
            "page_url",
            pl.col("timestamp").alias("occurred_at"),
            metadata.json_path_match("$.time_on_page_seconds").alias("time_on_page_seconds"),
            metadata.json_path_match("$.age_group").alias("age_group"),
            metadata.json_path_match("$.gender").alias("gender"),
        )
        .collect()
    )
    return frame.cast(RAW_EVENTS)


def query_archive(
    archive_root: Path, sql: str, limit: int = DEFAULT_QUERY_LIMIT, timeout_seconds: float = DEFAULT_QUERY_TIMEOUT_SECONDS
) -> ArchiveAnswer:
    """Run DuckDB SQL over the archive, seen as the view `raw_events` (every part on disk, verified or
    not: see check_archive); fetch at most `limit` rows, and interrupt the query after `timeout_seconds`."""
    import duckdb

    with duckdb.connect(config={"memory_limit": QUERY_MEMORY_LIMIT, "temp_directory": ""}) as conn:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute("set enable_progress_bar = false")
        conn.execute(_raw_events_view(Path(archive_root)))
        # Analysts read; they never write files, install extensions or read outside the archive.
        root = str(Path(archive_root).resolve()).replace("'", "''")
        conn.execute(f"set allowed_directories = ['{root}/']")
        conn.execute("set enable_external_access = false")
        conn.execute("set lock_configuration = true")
        timer = threading.Timer(timeout_seconds, conn.interrupt)
        try:
            kinds = {statement.type for statement in conn.extract_statements(sql)}
            if kinds - {duckdb.StatementType.SELECT}:
                names = ", ".join(sorted(kind.name for kind in kinds - {duckdb.StatementType.SELECT}))
                raise ArchiveQueryError(f"only SELECT queries may run over the archive, not {names}")
            timer.start()
            cursor = conn.execute(sql)
            if cursor.description is None:
                return ArchiveAnswer([], [], False)
            # Results stream: one row past the limit says there are more, without reading them all.
            rows = cursor.fetchmany(limit + 1)
            return ArchiveAnswer([column[0] for column in cursor.description], rows[:limit], len(rows) > limit)
        except duckdb.InterruptException:
            raise ArchiveQueryError(
                f"stopped after {timeout_seconds:g} s, the query's time limit; narrow or aggregate it, or allow more time (--timeout)"
            ) from None
        except duckdb.Error as exc:
            raise ArchiveQueryError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
        finally:
            timer.cancel()


def _raw_events_view(archive_root: Path) -> str:
    """DDL of the raw_events view: every part under the root, or an empty view of the same columns."""
    pattern = archive_root / f"{PARTITION_KEY}=*" / PART_GLOB
    if any(archive_root.glob(f"{PARTITION_KEY}=*/{PART_GLOB}")):
        literal = str(pattern).replace("'", "''")
        return (
            "create view raw_events as select * from read_parquet("
            f"'{literal}', hive_partitioning = true, hive_types = {{'{PARTITION_KEY}': varchar}}, union_by_name = true)"
        )
    columns = [f'cast(null as {_DUCKDB_TYPES[dtype]}) as "{name}"' for name, dtype in ARCHIVED_EVENTS.items()]
    columns.append(f"cast(null as varchar) as {PARTITION_KEY}")
    return f"create view raw_events as select {', '.join(columns)} where false"


def _describe_difference(selected: pl.DataFrame, archived: pl.DataFrame) -> str:
    """Missing, duplicated and altered rows between the selection and its archived copy, in words."""
    missing = selected.join(archived.select("id").unique(), on="id", how="anti").height
    duplicated = archived.height - archived.get_column("id").n_unique()
    hashed = [
        frame.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS).select("id", pl.struct(pl.all()).hash().alias("row_hash")).unique("id")
        for frame in (selected, archived)
    ]
    altered = hashed[0].join(hashed[1], on="id").filter(pl.col("row_hash") != pl.col("row_hash_right")).height
    return f"{missing} missing, {duplicated} duplicated, {altered} altered"


def _write_parquet_atomically(rows: pl.DataFrame, path: Path) -> None:
    """Write to a temporary name, flush it to disk, then rename it into place and flush the folder."""
    temporary = path.with_name(f"{TEMPORARY_PREFIX}{path.name}.writing")
    try:
        with open(temporary, "wb") as handle:
            rows.write_parquet(handle, compression="zstd", statistics=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write archive part {path} ({exc.strerror or exc}); free space or fix permissions, then rerun") from None
    _fsync_dir(path.parent)


def _make_durable_dir(directory: Path) -> None:
    """Create a partition folder (and the root) so that its entry survives a crash."""
    if directory.is_dir():
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create archive folder {directory} ({exc.strerror or exc}); fix ANALYTICS_ARCHIVE_ROOT or its permissions"
        ) from None
    _fsync_dir(directory.parent)


def _remove_temporary_files(directory: Path) -> None:
    """Remove parts a crashed write left unfinished; they were never renamed into place, so hold nothing archived."""
    for leftover in directory.glob(f"{TEMPORARY_PREFIX}*"):
        leftover.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


if __name__ == "__main__":
    import sys

    # `python -m flows.archive record <month folder>`: list parts written before checksums were recorded.
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m flows.archive record <archive root>/month=YYYY-MM")
    folder = Path(sys.argv[2]).resolve()
    recorded = record_unlisted_parts(folder.parent, folder.name.removeprefix(f"{PARTITION_KEY}="))
    print(f"{len(recorded)} parts recorded in {folder / MANIFEST_NAME}: {', '.join(recorded) or 'none'}")
