"""Tests for transforms.sources: traffic-source classification from utm_source and referrer."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.reference import load_known_sources
from transforms.sources import classify_traffic_sources

SITE_HOSTS = ("example.com",)
PAGE = "https://example.com/events/42"
SCHEMA = {"referrer": pl.String, "page_url": pl.String}


def classify_one(referrer: str | None, page_url: str | None = PAGE) -> str:
    """Return the traffic source of a single event."""
    events = pl.DataFrame({"referrer": [referrer], "page_url": [page_url]}, schema=SCHEMA)
    return classify_traffic_sources(events, load_known_sources(), SITE_HOSTS)["traffic_source"].item()


CASES = [
    # (referrer, page_url, expected, id)
    ("https://www.facebook.com/", f"{PAGE}?utm_source=NewsLetter", "newsletter", "utm-beats-referrer-lowercased"),
    ("https://t.co/x", "https://example.com/?utm_source=%20Spring+Promo%20", "spring promo", "utm-decoded-and-trimmed"),
    ("https://t.co/x", "https://example.com/?utm_source=", "twitter", "utm-empty-value-ignored"),
    (None, "https://example.com/?utm_source=&utm_source=mail", "mail", "utm-first-non-empty"),
    ("https://t.co/x", "https://example.com/?utm_source=+", "twitter", "utm-blank-after-decoding-ignored"),
    (None, "https://example.com/?a=1&utm_source=Newsletter", "newsletter", "utm-later-param"),
    (None, "https://example.com/?UTM_SOURCE=Flyer", "flyer", "utm-key-case-insensitive"),
    (None, "https://example.com/?utm_source=flyer#top", "flyer", "utm-before-fragment"),
    (None, "https://example.com/#utm_source=flyer", "direct", "utm-in-fragment-ignored"),
    (None, "https://example.com/?a=1#x&utm_source=flyer", "direct", "utm-after-hash-ignored"),
    (None, "https://example.com/?xutm_source=flyer", "direct", "utm-key-must-be-whole"),
    (None, "https://example.com/utm_source=flyer", "direct", "utm-in-path-ignored"),
    (None, None, "direct", "no-referrer-no-page-url"),
    (None, PAGE, "direct", "no-referrer"),
    ("", PAGE, "direct", "empty-referrer"),
    ("  \t ", PAGE, "direct", "whitespace-referrer"),
    ("https://example.com/other", PAGE, "internal", "internal-exact"),
    ("https://www.example.com/other", PAGE, "internal", "internal-www"),
    ("http://m.Example.COM./x", PAGE, "internal", "internal-subdomain-case-trailing-dot"),
    ("https://notexample.com/", PAGE, "notexample.com", "internal-needs-label-boundary"),
    ("https://www.some-blog.org/post/1", PAGE, "some-blog.org", "unknown-host-loses-www"),
    ("https://WWW.Some-Blog.ORG", PAGE, "some-blog.org", "unknown-host-lowercased"),
    ("https://blog.some-blog.org/", PAGE, "blog.some-blog.org", "unknown-subdomain-kept"),
    ("https://m.facebook.com/", PAGE, "facebook", "m-facebook"),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com", PAGE, "facebook", "l-facebook"),
    ("https://lm.facebook.com/", PAGE, "facebook", "lm-facebook"),
    ("https://fb.me/abc", PAGE, "facebook", "fb-me"),
    ("https://l.instagram.com/", PAGE, "instagram", "instagram"),
    ("https://t.co/AbC123", PAGE, "twitter", "t-co"),
    ("https://x.com/someone/status/1", PAGE, "twitter", "x-com"),
    ("https://mobile.twitter.com/", PAGE, "twitter", "twitter"),
    ("https://www.google.com/", PAGE, "google", "google-com"),
    ("https://www.google.co.uk/", PAGE, "google", "google-co-uk"),
    ("https://www.google.fr/", PAGE, "google", "google-fr"),
    ("https://www.google.com.br/", PAGE, "google", "google-com-br"),
    ("https://news.google.com/articles/x", PAGE, "google", "news-google"),
    ("https://mail.google.com/mail/u/0/", PAGE, "email", "gmail-longest-match-wins"),
    ("https://googleusercontent.com/", PAGE, "googleusercontent.com", "google-prefix-needs-label-boundary"),
    ("https://google.some-blog.org/", PAGE, "google.some-blog.org", "google-wildcard-needs-public-ending"),
    ("https://outlook.live.com/mail/0/", PAGE, "email", "outlook"),
    ("https://mail.yahoo.com/", PAGE, "email", "yahoo-mail"),
    ("https://mail.yahoo.co.jp/", PAGE, "email", "yahoo-mail-wildcard"),
    ("https://search.yahoo.co.jp/", PAGE, "yahoo", "yahoo-search-wildcard"),
    ("https://www.bing.com/search?q=x", PAGE, "bing", "bing"),
    ("https://duckduckgo.com/", PAGE, "duckduckgo", "duckduckgo"),
    ("https://www.ecosia.org/", PAGE, "ecosia", "ecosia"),
    ("https://www.linkedin.com/feed/", PAGE, "linkedin", "linkedin"),
    ("https://lnkd.in/abc", PAGE, "linkedin", "lnkd-in"),
    ("https://www.tiktok.com/", PAGE, "tiktok", "tiktok"),
    ("https://m.youtube.com/watch?v=1", PAGE, "youtube", "youtube"),
    ("https://youtu.be/abc", PAGE, "youtube", "youtu-be"),
    ("https://old.reddit.com/r/x", PAGE, "reddit", "reddit"),
    ("https://www.pinterest.fr/", PAGE, "pinterest", "pinterest-wildcard"),
    ("https://www.snapchat.com/", PAGE, "snapchat", "snapchat"),
    ("https://www.threads.net/", PAGE, "threads", "threads"),
    ("https://bsky.app/profile/x", PAGE, "bluesky", "bluesky"),
    ("https://wa.me/123", PAGE, "whatsapp", "wa-me"),
    ("https://web.whatsapp.com/", PAGE, "whatsapp", "web-whatsapp"),
    ("https://t.me/channel", PAGE, "telegram", "telegram"),
    ("https://www.messenger.com/", PAGE, "messenger", "messenger"),
    ("android-app://com.google.android.gm/", PAGE, "email", "android-gmail-app"),
    ("facebook.com/some/page", PAGE, "facebook", "no-scheme"),
    ("www.some-blog.org?x=1", PAGE, "some-blog.org", "no-scheme-query"),
    ("//lnkd.in/abc", PAGE, "linkedin", "protocol-relative"),
    ("https://user:p@ss@Reddit.com:8443/r/x", PAGE, "reddit", "port-and-userinfo"),
    ("some-blog.org:8080/x", PAGE, "some-blog.org", "no-scheme-with-port"),
    ("http://localhost:3000/", PAGE, "localhost", "single-label-host-with-scheme"),
    ("http://[::1]:8080/", PAGE, "[::1]", "ipv6-literal"),
    ("http://192.168.0.1/", PAGE, "192.168.0.1", "ipv4"),
    ("not a url", PAGE, "other", "garbage-words"),
    (":::", PAGE, "other", "garbage-colons"),
    ("http://", PAGE, "other", "garbage-scheme-only"),
    ("https://exa mple.com/", PAGE, "other", "garbage-space-in-host"),
    ("https://foo..com/", PAGE, "other", "garbage-empty-label"),
    ("null", PAGE, "other", "garbage-null-string"),
    ("undefined", PAGE, "other", "garbage-undefined-string"),
    ("日本語のテキスト", PAGE, "other", "garbage-unicode-text"),
    ("💩 \u0000 \ud7ff", PAGE, "other", "garbage-unicode-symbols"),
    ("https://bücher.de/", PAGE, "bücher.de", "unicode-idn-host"),
    ("not a url", "not a url either ?utm_source=Ok", "ok", "garbage-both-utm-still-wins"),
]


@pytest.mark.parametrize(("referrer", "page_url", "expected"), [case[:3] for case in CASES], ids=[case[3] for case in CASES])
def test_classifies_single_event(referrer: str | None, page_url: str | None, expected: str) -> None:
    assert classify_one(referrer, page_url) == expected


def test_preserves_rows_order_and_columns() -> None:
    events = pl.DataFrame(
        {
            "event_id": ["a", "b", "c", "d", "e"],
            "referrer": ["https://t.co/x", None, "https://t.co/x", "https://www.example.com", "junk text"],
            "page_url": [PAGE, PAGE, f"{PAGE}?utm_source=Mail", PAGE, None],
        }
    )
    result = classify_traffic_sources(events, load_known_sources(), SITE_HOSTS)
    assert result.columns == ["event_id", "referrer", "page_url", "traffic_source"]
    assert result.drop("traffic_source").equals(events)
    assert result["traffic_source"].to_list() == ["twitter", "direct", "mail", "internal", "other"]
    assert result.schema["traffic_source"] == pl.String


def test_handles_empty_and_all_null_frames() -> None:
    empty = classify_traffic_sources(pl.DataFrame(schema=SCHEMA), load_known_sources(), SITE_HOSTS)
    all_null = pl.DataFrame({"referrer": [None, None], "page_url": [None, None]}, schema=SCHEMA)
    nulls = classify_traffic_sources(all_null, (), ())
    assert empty.height == 0 and empty.schema["traffic_source"] == pl.String
    assert nulls["traffic_source"].to_list() == ["direct", "direct"]


def test_without_site_hosts_own_referrer_is_its_host() -> None:
    events = pl.DataFrame({"referrer": ["https://www.example.com/x"], "page_url": [PAGE]})
    assert classify_traffic_sources(events, load_known_sources(), ())["traffic_source"].item() == "example.com"


def test_most_specific_known_row_wins_in_any_order() -> None:
    known = [("google.*", "google"), ("maps.google.com", "maps"), ("google.com", "google-exact")]
    referrers = ["https://maps.google.com", "https://google.com", "https://google.de"]
    events = pl.DataFrame({"referrer": referrers, "page_url": [PAGE] * 3})
    for rows in (known, known[::-1]):
        result = classify_traffic_sources(events, rows, ())
        assert result["traffic_source"].to_list() == ["maps", "google-exact", "google"]


def test_rejects_malformed_known_source_rows() -> None:
    events = pl.DataFrame({"referrer": ["https://t.co"], "page_url": [PAGE]})
    with pytest.raises(ValueError, match="known source row"):
        classify_traffic_sources(events, [("*.google.com", "google")], ())


def test_shipped_sources_cover_the_named_sources() -> None:
    sources = {source for _, source in load_known_sources()}
    named = {"facebook", "instagram", "google", "twitter", "linkedin", "tiktok", "youtube", "reddit", "bing"}
    named |= {"duckduckgo", "yahoo", "ecosia", "pinterest", "snapchat", "threads", "bluesky", "email", "whatsapp"}
    named |= {"telegram", "messenger"}
    assert named <= sources


SCHEMES = st.sampled_from(["http", "https", "android-app", ""])
URL_LIKE_TEXT = st.one_of(
    st.none(),
    st.text(),
    st.builds(lambda head, tail: f"{head}?utm_source={tail}", st.text(), st.text()),
    st.builds(lambda scheme, rest: f"{scheme}://{rest}", SCHEMES, st.text()),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(URL_LIKE_TEXT, URL_LIKE_TEXT), max_size=20), site_hosts=st.lists(st.text(max_size=20), max_size=3))
def test_arbitrary_text_never_fails_or_yields_null(rows: list[tuple[str | None, str | None]], site_hosts: list[str]) -> None:
    events = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    result = classify_traffic_sources(events, load_known_sources(), site_hosts)
    assert result.height == events.height
    assert result["traffic_source"].null_count() == 0
    assert result.drop("traffic_source").equals(events)
