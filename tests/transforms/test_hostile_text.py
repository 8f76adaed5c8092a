"""Hostile raw text never yields a key or value PostgreSQL refuses: each case by itself, pure transforms."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from data.reference import load_known_sources
from tests.transforms.factories import ITEM, PAGE_URL, T0, make_raw_events, run_hours
from transforms.breakdowns import attach_breakdown_json
from transforms.sources import classify_traffic_sources
from transforms.text import DIGEST_PREFIX, MAX_KEY_CHARS, MAX_VISITOR_KEY_BYTES, without_nul

HOUR = timedelta(hours=1)
SCHEMA = {"referrer": pl.String, "page_url": pl.String}


def source_of(page_url: str, referrer: str | None = None) -> str:
    events = pl.DataFrame({"referrer": [referrer], "page_url": [page_url]}, schema=SCHEMA)
    return classify_traffic_sources(events, load_known_sources(), ("example-events.com",))["traffic_source"].item()


UTM_CASES = [
    ("%00", None, "other", "nul"),
    ("news%00letter", None, "other", "nul-inside"),
    ("%ff", None, "other", "invalid-byte"),
    ("%C0%80", None, "other", "overlong-nul"),
    ("%C1%81", None, "other", "overlong-letter"),
    ("%ED%A0%80", None, "other", "lone-surrogate"),
    ("%ED%B0%80%ED%A0%80", None, "other", "reversed-surrogate-pair"),
    ("%F4%90%80%80", None, "other", "beyond-unicode"),
    ("%E2%82", None, "other", "truncated-sequence"),
    ("%01x", None, "other", "control-character"),
    ("a%0Ab", None, "other", "newline-inside"),
    ("%00", "https://www.google.com/", "other", "nul-still-beats-referrer"),
    ("x" * (MAX_KEY_CHARS + 1), None, "other", "too-long"),
    ("x" * MAX_KEY_CHARS, None, "x" * MAX_KEY_CHARS, "longest-kept"),
    ("%E2%82%AC", None, "€", "valid-multibyte"),
    ("%C3%89t%C3%A9", None, "été", "valid-accents-lowercased"),
    ("%F0%9F%98%80", None, "😀", "valid-astral"),
    ("%22q%5C%22", None, '"q\\"', "quote-and-backslash-kept"),
    ("%0A%09", "https://t.co/x", "twitter", "blank-after-trim-ignored"),
    ("%zz", None, "%zz", "bad-escape-kept-literally"),
]


@pytest.mark.parametrize(("utm", "referrer", "expected"), [c[:3] for c in UTM_CASES], ids=[c[3] for c in UTM_CASES])
def test_utm_source_that_does_not_decode_to_text_is_other(utm: str, referrer: str | None, expected: str) -> None:
    assert source_of(f"{PAGE_URL}?utm_source={utm}&utm_medium=email", referrer) == expected


REFERRER_CASES = [
    ("https://" + "a" * 300 + ".com/", "other", "host-longer-than-dns-allows"),
    ("https://exa\x00mple.com/", "other", "nul-in-host"),
    ("https://bad%00host.com/", "other", "escape-in-host"),
    ("https://a\nb.com/", "other", "newline-in-host"),
]


@pytest.mark.parametrize(("referrer", "expected"), [c[:2] for c in REFERRER_CASES], ids=[c[2] for c in REFERRER_CASES])
def test_referrer_without_a_storable_host_is_other(referrer: str, expected: str) -> None:
    assert source_of(PAGE_URL, referrer) == expected


def breakdown(result, dimension: str) -> dict[str, int]:
    rows = result.breakdowns.filter(pl.col("dimension") == dimension)
    return dict(zip(rows["key"], rows["views"], strict=True))


DEMOGRAPHIC_CASES = [
    ("18-24\x00", "other", "nul"),
    ("\x00", "other", "only-nul"),
    ("y" * (MAX_KEY_CHARS + 1), "other", "too-long"),
    ('18"24', '18"24', "quote-kept"),
    ("18\\24", "18\\24", "backslash-kept"),
    ("18\n\\.\n24", "18\n\\.\n24", "copy-end-marker-line-kept"),
    ("\t", "\t", "tab-kept"),
    ("\\u0000", "\\u0000", "escaped-nul-text-kept"),
]


@pytest.mark.parametrize(("value", "expected"), [c[:2] for c in DEMOGRAPHIC_CASES], ids=[c[2] for c in DEMOGRAPHIC_CASES])
def test_demographic_keys_are_storable(value: str, expected: str) -> None:
    raw = make_raw_events([{"age_group": value, "gender": value}, {"age_group": "25-34", "visitor_key": "v2"}])
    result = run_hours(raw, T0, T0 + HOUR)
    assert breakdown(result, "age_groups") == {expected: 1, "25-34": 1}
    assert breakdown(result, "genders") == {expected: 1}
    assert json.loads(json.dumps(expected)) == expected


VISITOR_CASES = [
    ("a\x00b", "nul"),
    ("\x00", "only-nul"),
    ("s" * (MAX_VISITOR_KEY_BYTES + 1), "too-long"),
    ("é" * (MAX_VISITOR_KEY_BYTES // 2 + 1), "too-many-bytes"),
]


@pytest.mark.parametrize("key", [c[0] for c in VISITOR_CASES], ids=[c[1] for c in VISITOR_CASES])
def test_unstorable_visitor_keys_become_stable_digests(key: str) -> None:
    raw = make_raw_events([{"visitor_key": key}, {"visitor_key": key, "occurred_at": T0 + timedelta(minutes=5)}, {"visitor_key": "plain"}])
    first, again = run_hours(raw, T0, T0 + HOUR), run_hours(raw.reverse(), T0, T0 + HOUR)
    keys = sorted(first.visitor_hours["visitor_key"].to_list())
    assert keys == sorted(again.visitor_hours["visitor_key"].to_list())
    assert len(keys) == 2 and "plain" in keys
    digest = next(k for k in keys if k != "plain")
    assert digest.startswith(DIGEST_PREFIX) and "\x00" not in digest and len(digest.encode()) <= MAX_VISITOR_KEY_BYTES
    assert first.hours["unique_views_count"].to_list() == [2] and first.hours["visits_count"].to_list() == [2]


def test_distinct_unstorable_visitor_keys_stay_distinct() -> None:
    raw = make_raw_events([{"visitor_key": "a\x00"}, {"visitor_key": "b\x00"}, {"visitor_key": "x" * 3000}, {"visitor_key": "y" * 3000}])
    result = run_hours(raw, T0, T0 + HOUR)
    assert result.hours["unique_views_count"].to_list() == [4]
    assert result.visitor_hours["visitor_key"].n_unique() == 4


def test_json_guard_folds_unstorable_keys_into_one_other() -> None:
    rows = pl.DataFrame({"event_id": [ITEM]})
    breakdowns = pl.DataFrame(
        {
            "event_id": [ITEM] * 4,
            "dimension": ["traffic_sources"] * 3 + ["genders"],
            "key": ["a\x00", "other", "z" * (MAX_KEY_CHARS + 1), "\x00"],
            "views": [1, 2, 3, 4],
        }
    )
    objects = attach_breakdown_json(rows, breakdowns, ["event_id"])
    assert json.loads(objects["traffic_sources"].item()) == {"other": 6}
    assert json.loads(objects["genders"].item()) == {"other": 4}
    assert "\\u0000" not in objects["traffic_sources"].item()


def test_copy_guard_replaces_nul_in_every_text_column() -> None:
    frame = pl.DataFrame({"a": ["x\x00y", None, "ok"], "b": ["\x00", "fine", None], "n": [1, 2, 3]})
    cleaned = without_nul(frame)
    assert cleaned["a"].to_list() == ["x\ufffdy", None, "ok"] and cleaned["b"].to_list() == ["\ufffd", "fine", None]
    assert cleaned["n"].to_list() == [1, 2, 3]
    clean = pl.DataFrame({"a": ["x"]})
    assert without_nul(clean) is clean


def test_every_hostile_view_still_counts_once() -> None:
    urls = ["%00", "%ff", "%C0%80", "%ED%A0%80"]
    raw = make_raw_events([{"page_url": f"{PAGE_URL}?utm_source={u}", "visitor_key": f"v{i}"} for i, u in enumerate(urls)])
    result = run_hours(raw, T0, T0 + HOUR)
    assert result.hours["views_count"].to_list() == [4]
    assert breakdown(result, "traffic_sources") == {"other": 4}
