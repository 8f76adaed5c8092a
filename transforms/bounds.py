"""The instants the calendar places (standard library only, so that parameters are checked before Polars loads)."""

from __future__ import annotations

from datetime import UTC, datetime

# Every period and the all_time key start at the epoch, and a row dated centuries ahead (year 9999,
# or 4713 BC below) is tracker garbage whose periods Python's datetime cannot even name. Windows,
# backfills and retention use the same bounds.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)
