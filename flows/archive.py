"""The Parquet archive of raw rows past retention: month partitions written atomically, checked, read and queried."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
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

_DUCKDB_TYPES = {pl.String: "varchar", UTC_TIME: "timestamptz"}


class ArchiveError(RuntimeError):
    """The archive cannot be written, read or trusted; the message says which month and what to do."""


class ArchiveVerificationError(ArchiveError):
    """Rows read back from the archive differ from the rows selected for it."""


class ArchiveQueryError(ArchiveError):
    """An analyst's query over the archive failed; the message is DuckDB's first line."""


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


def read_archived_rows(archive_root: Path, month: str, ids: pl.Series | None = None) -> pl.DataFrame:
    """Archived rows of one month, only those whose id is in `ids` when given, in the ARCHIVED_EVENTS shape."""
    files = partition_files(archive_root, month)
    if not files:
        return pl.DataFrame(schema=ARCHIVED_EVENTS)
    scan = pl.scan_parquet(files, hive_partitioning=False).select(ARCHIVED_EVENTS.names())
    if ids is not None:
        scan = scan.filter(pl.col("id").is_in(ids.implode()))
    return scan.collect().cast(ARCHIVED_EVENTS)


def read_archived_ids(archive_root: Path, month: str) -> pl.Series:
    """Ids of every row archived for one month."""
    files = partition_files(archive_root, month)
    if not files:
        return pl.Series("id", [], dtype=pl.String)
    return pl.scan_parquet(files, hive_partitioning=False).select("id").collect().get_column("id")


def checksum_rows(rows: pl.DataFrame) -> Checksum:
    """Count and checksum of rows in the ARCHIVED_EVENTS shape, defined as PostgreSQL computes it on delete."""
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
        path = directory / part_name(new_rows)
        _write_parquet_atomically(new_rows.select(ARCHIVED_EVENTS.names()).cast(ARCHIVED_EVENTS).sort("timestamp", "id"), path)
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
    rejected = path.with_name(f"{REJECTED_PREFIX}{path.name}")
    os.replace(path, rejected)
    _fsync_dir(path.parent)
    return rejected


def read_archived_events(archive_root: Path, start: datetime, end: datetime, exclude_ids: pl.Series | None = None) -> pl.DataFrame:
    """Archived rows with start <= timestamp < end, in the RAW_EVENTS shape (only overlapping months are read).

    `exclude_ids` leaves out rows still in the database too (archived, not yet deleted).
    """
    start, end = ensure_utc(start), ensure_utc(end)
    files = [path for month in months_overlapping(start, end) for path in partition_files(archive_root, month)]
    if not files:
        return pl.DataFrame(schema=RAW_EVENTS)
    metadata = pl.col("metadata").str
    frame = (
        pl.scan_parquet(files, hive_partitioning=False)
        .filter(pl.col("timestamp") >= start, pl.col("timestamp") < end)
        .filter(~pl.col("id").is_in(exclude_ids.implode()) if exclude_ids is not None else pl.lit(True))
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


def query_archive(archive_root: Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run DuckDB SQL over the archive, seen as the view `raw_events`; return column names and rows."""
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(_raw_events_view(Path(archive_root)))
        # Analysts read; they never write files, install extensions or read outside the archive.
        root = str(Path(archive_root).resolve()).replace("'", "''")
        conn.execute(f"set allowed_directories = ['{root}/']")
        conn.execute("set enable_external_access = false")
        conn.execute("set lock_configuration = true")
        try:
            kinds = {statement.type for statement in conn.extract_statements(sql)}
            if kinds - {duckdb.StatementType.SELECT}:
                names = ", ".join(sorted(kind.name for kind in kinds - {duckdb.StatementType.SELECT}))
                raise ArchiveQueryError(f"only SELECT queries may run over the archive, not {names}")
            cursor = conn.execute(sql)
            if cursor.description is None:
                return [], []
            return [column[0] for column in cursor.description], cursor.fetchall()
        except duckdb.Error as exc:
            raise ArchiveQueryError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None


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
