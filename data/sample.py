"""Deterministic, realistic sample data (items and raw tracking rows) and their bulk load with COPY."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import psycopg
from psycopg import sql

from data import EVEN, NATURAL, SPREADS
from transforms.schemas import RAW_TABLE_ROWS, UTC_TIME

SITE = "https://www.example-events.com"
ITEM_URL_PREFIX = f"{SITE}/events/"

ITEMS_SCHEMA = pl.Schema({"id": pl.String, "title": pl.String, "date": UTC_TIME, "status": pl.String})
SAMPLE_RAW_EVENTS = RAW_TABLE_ROWS

# 100k rows is about 45 MB of CSV: large enough that per-chunk overhead vanishes, small enough
# to keep a million-row load's memory bounded.
COPY_CHUNK_ROWS = 100_000
# Rows generated at once: a sample up to this size is one frame; a larger one is generated and
# written a chunk at a time (a 10M-row sample in one frame peaked at 7.9 GiB).
GENERATE_CHUNK_ROWS = 100_000

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Items generated without a reference instant are dated around this one, so a seed alone fixes them.
DEFAULT_ITEMS_ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)

# --- Items -------------------------------------------------------------------------------------

_ITEM_STATUSES = ("approved", "draft", "cancelled")
_ITEM_STATUS_P = (0.86, 0.07, 0.07)
_ARTISTS = (
    "The Midnight Owls",
    "Luna Park",
    "Velvet Echo",
    "Nora Quinn",
    "DJ Kestrel",
    "The Paper Lanterns",
    "Marcus Bell Trio",
    "Saint Hollow",
    "Electric Mirrors",
    "Amara Diallo",
    "Les Voyageurs",
    "Orchestre de Chambre Lumière",
    "Björk Tribute Band",
    "Sofia Marín",
    "Neon Harbour",
    "Kofi & The Tides",
)
_VENUES = (
    "Le Trianon",
    "The Roundhouse",
    "L'Olympia",
    "Blue Note",
    "La Cigale",
    "Brixton Academy",
    "Paradiso",
    "Zénith",
    "Café de la Danse",
    "The Jazz Cellar",
    "Salle Pleyel",
    "Warehouse 9",
)
_GENRES = ("Jazz", "Techno", "Indie Rock", "Afrobeats", "Classical", "Hip-Hop", "Salsa", "Folk", "K-Pop")
_TOURS = ("Northern Lights", "Second Wind", "Paper Moons", "Golden Hour", "After Dark")
_SHOWS = (
    "Stand-up Comedy: {artist}",
    "Improv Night at {venue}",
    "Magic & Mentalism Show",
    'Cabaret: Rock, Paper & "Scissors"',
    "Le Petit Prince (Theatre)",
    "Drag Brunch Extravaganza",
    "Swan Lake — Ballet",
    "Open Mic at {venue}",
)
_CITIES = ("Paris", "Lyon", "London", "Berlin", "Lisbon", "Montréal", "Brussels", "Barcelona")
_TOPICS = (
    "Python",
    "Data Engineering",
    "UX Design",
    "Startup Founders",
    "Board Games",
    "Photography",
    "Running Club",
    "Women in Tech",
    "Rust",
    "Language Exchange",
)
_CONCERT_TITLES = (
    "{artist} Live at {venue}",
    "{artist} — {tour} Tour",
    "{genre} Night with {artist}",
    "{city} {genre} Festival",
    "{artist}, {artist2} and Friends",
)
_MEETUP_TITLES = ("{city} {topic} Meetup", "{topic} Meetup #{number}", "{topic} Workshop for Beginners")
_ITEM_KINDS = ("concert", "show", "meetup")
_ITEM_KIND_P = (0.5, 0.25, 0.25)

# --- Visits ------------------------------------------------------------------------------------

# Rows per visit: about 35% single-row visits (bounces), a long-ish tail to 8.
_VISIT_LENGTHS = np.arange(1, 9)
_VISIT_LENGTH_P = np.array([0.35, 0.20, 0.14, 0.10, 0.07, 0.06, 0.04, 0.04])
# Distinct items a visit looks at (capped by its length).
_ITEMS_PER_VISIT_P = np.array([0.72, 0.20, 0.08])
# A pool smaller than the visits with lognormal visit rates: many one-off visitors and some
# regulars that come back across days (unique counts stay well below views), yet no single
# visitor makes more than a few visits a day.
_POOL_PER_VISIT = 0.6
_POOL_RATE_SIGMA = 1.1
_ITEM_ZIPF_EXPONENT = 0.9
_ITEM_STATUS_WEIGHT = {"approved": 1.0, "cancelled": 0.25, "draft": 0.02}

# Visitor kinds: signed-in (user_id, plus the tracker's long-lived session_id), anonymous
# (session_id only), neither (tracker lost both), bot (a fresh session_id per visit).
_SIGNED_IN, _ANONYMOUS, _NEITHER, _BOT = 0, 1, 2, 3
_VISITOR_KIND_P = np.array([0.30, 0.65, 0.01, 0.04])
_DEMOGRAPHICS_SHARE = 0.25
_AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_AGE_GROUP_P = np.array([0.22, 0.32, 0.20, 0.13, 0.08, 0.05])
_GENDERS = ("female", "male", "non-binary")
_GENDER_P = np.array([0.52, 0.45, 0.03])
_IPV6_SHARE = 0.12

# Audience mostly in Europe: UTC hours, quiet nights, evening peak; busier Fridays and Saturdays.
# fmt: off
_HOUR_WEIGHTS = np.array([
    0.35, 0.20, 0.12, 0.08, 0.07, 0.10, 0.20, 0.40, 0.60, 0.70, 0.75, 0.80,
    0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.10, 1.25, 1.30, 1.15, 0.90, 0.60,
])
# fmt: on
_WEEKDAY_WEIGHTS = np.array([0.85, 0.85, 0.90, 1.00, 1.30, 1.35, 1.00])  # Monday first

# Seconds between two rows of a visit: lognormal around half a minute; a few long pauses split
# the visit for a 30-minute sessioniser.
_GAP_MEDIAN_SECONDS = 25.0
_GAP_SIGMA = 1.1
_GAP_MAX_SECONDS = 600.0
_LONG_GAP_SHARE = 0.03
_LONG_GAP_MINUTES = (31, 240)

# Row mix of human visitors; every page a visit lands on starts with a view, and the
# remaining rows are drawn so that the overall mix matches these shares.
_EVENT_TYPES = ("view", "click", "ticket_click", "external_click", "share", "favorite")
_EVENT_TYPE_P = np.array([0.685, 0.125, 0.062, 0.042, 0.043, 0.043])
_TIME_ON_PAGE_SHARE = 0.20

# Bad rows the raw table must still accept.
_UNKNOWN_TYPES = ("hover", "VIEW", "scroll", "Click", "impression")
_UNKNOWN_TYPE_RATE = 0.001
_NULL_EVENT_ID_RATE = 0.0005
_NULL_TIMESTAMP_RATE = 0.0002
_BAD_ROWS_FLOOR_FROM = 1_000
_BAD_ROW_RATES = (_UNKNOWN_TYPE_RATE, _NULL_EVENT_ID_RATE, _NULL_TIMESTAMP_RATE)

_HUMAN_AGENTS: tuple[tuple[str, float], ...] = (
    # Phones, iOS
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        10.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        9.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.111 Mobile/15E148 Safari/604.1",
        2.0,
    ),
    # Phones, Android
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
        11.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile Safari/537.36",
        4.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        4.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
        2.5,
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", 1.0),
    # Tablets
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        3.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
        1.5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 "
        "like Chrome/124.0.6367.219 Safari/537.36",
        0.5,
    ),
    # Desktops
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        10.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87",
        4.0,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", 2.0),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        5.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        4.0,
    ),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0", 0.8),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        1.0,
    ),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", 0.7),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        1.0,
    ),
    # In-app browsers
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.43.108;FBBV/620116413;FBDV/iPhone15,2;FBMD/iPhone;"
        "FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/fr_FR;FBOP/5;FBRV/621880375]",
        3.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-G991B Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/472.0.0.45.84;]",
        2.0,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 Instagram 337.0.3.23.54 (iPhone14,5; iOS 17_5_1; fr_FR; fr; scale=3.00; "
        "1170x2532; 614221630)",
        3.0,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 Instagram "
        "334.0.0.42.95 Android (33/13; 420dpi; 1080x2400; Google/google; Pixel 7; panther; panther; "
        "en_US; 600201539)",
        1.5,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 musical_ly_34.5.0 JsSdk/2.0 NetType/WIFI Channel/App Store ByteLocale/fr "
        "Region/FR BytedanceWebview/d8a21c6",
        1.5,
    ),
)
_BOT_AGENTS: tuple[tuple[str, float], ...] = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 20.0),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        8.0,
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 12.0),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 15.0),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 6.0),
    ("WhatsApp/2.23.20.0", 10.0),
    ("Twitterbot/1.0", 5.0),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
        10.0,
    ),
    ("curl/8.5.0", 5.0),
    ("python-requests/2.32.3", 7.0),
)
# Per human visitor: a tracker that sent no user agent, or an empty one.
_NULL_AGENT_SHARE = 0.0025
_EMPTY_AGENT_SHARE = 0.0025

# (category, weight, referrers drawn uniformly within it); direct visits mostly send no referrer
# and sometimes an empty one.
_REFERRERS: tuple[tuple[str, float, tuple[str | None, ...]], ...] = (
    ("direct", 0.38, (None,) * 9 + ("",)),
    (
        "search",
        0.24,
        ("https://www.google.com/",) * 5
        + ("https://www.google.fr/",) * 3
        + (
            "https://www.google.co.uk/",
            "https://www.bing.com/",
            "https://www.bing.com/",
            "https://duckduckgo.com/",
        ),
    ),
    (
        "facebook",
        0.08,
        (
            "https://m.facebook.com/",
            "https://l.facebook.com/",
            "https://l.facebook.com/",
            "https://www.facebook.com/",
            "https://lm.facebook.com/",
        ),
    ),
    (
        "instagram",
        0.055,
        ("https://l.instagram.com/", "https://www.instagram.com/", "https://l.instagram.com/"),
    ),
    ("tiktok", 0.025, ("https://www.tiktok.com/",)),
    ("twitter", 0.015, ("https://t.co/AbC123xYz", "https://t.co/", "https://x.com/")),
    ("linkedin", 0.015, ("https://www.linkedin.com/", "https://lnkd.in/")),
    ("youtube", 0.01, ("https://www.youtube.com/", "https://m.youtube.com/")),
    (
        "mail",
        0.035,
        (
            "https://mail.google.com/",
            "https://outlook.live.com/",
            "https://mail.yahoo.com/",
            "android-app://com.google.android.gm/",
        ),
    ),
    (
        "internal",
        0.09,
        (
            f"{SITE}/",
            f"{SITE}/events?city=paris",
            f"{SITE}/search?q=jazz",
            f"{SITE}/events?category=concerts",
        ),
    ),
    (
        "blog",
        0.028,
        (
            "https://www.someblog.net/post",
            "https://citylife-magazine.org/weekend-picks",
            "https://news.example.org/arts/what-to-do-this-weekend",
        ),
    ),
    ("garbage", 0.007, ("not a url", "undefined", "://broken", "www.google.com")),
)
# (category, share of its visits landing with campaign parameters, parameters drawn uniformly).
_UTM: dict[str, tuple[float, tuple[str, ...]]] = {
    # Mail apps often strip the referrer, so newsletter clicks look direct.
    "direct": (
        0.10,
        ("?utm_source=Newsletter&utm_medium=email", "?utm_source=newsletter", "?utm_source=sms"),
    ),
    "mail": (0.70, ("?utm_source=Newsletter&utm_medium=email&utm_campaign=weekly",)),
    "facebook": (0.25, ("?utm_source=facebook&utm_medium=paid&utm_campaign=weekend&fbclid=IwAR0xYz",)),
    "instagram": (0.35, ("?utm_source=instagram&utm_medium=social", "?utm_source=ig&utm_medium=story")),
    "tiktok": (0.25, ("?utm_source=tiktok&utm_medium=social",)),
    "search": (0.04, ("?utm_source=google&utm_medium=cpc&gclid=Cj0KCQjw",)),
}
_OTHER_UTM = (0.03, ("?utm_source=partner&utm_medium=referral",))

# fmt: off
_IPV4_FIRST_OCTETS = np.array([
    2, 5, 24, 31, 37, 46, 62, 68, 71, 73, 77, 78, 79, 80, 81, 82, 83, 86, 88, 90, 91, 92, 98, 99,
    109, 174, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217,
])
# fmt: on
_IPV6_PREFIXES = ("2a01:cb00", "2001:861", "2a02:8428", "2600:1700", "2a00:23c5", "2a01:e0a")

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def generate_items(count: int, seed: int, *, around: datetime = DEFAULT_ITEMS_ANCHOR) -> pl.DataFrame:
    """Rows for the events table, dated from 30 days before `around` to 150 days after."""
    rng = np.random.Generator(np.random.PCG64(seed))
    ids = _draw_uuids(rng, count)
    kinds = rng.choice(len(_ITEM_KINDS), size=count, p=_ITEM_KIND_P)
    statuses = rng.choice(len(_ITEM_STATUSES), size=count, p=_ITEM_STATUS_P)
    day_offsets = rng.integers(-30, 150, size=count)
    start_minutes = rng.choice([17 * 60, 18 * 60, 19 * 60, 19 * 60 + 30, 20 * 60, 20 * 60 + 30, 21 * 60], size=count)
    # Titles are few (one per item): a comprehension over small lists of draws is enough.
    picks = rng.integers(0, 1 << 30, size=(count, 7))
    titles = [_compose_title(_ITEM_KINDS[kind], row) for kind, row in zip(kinds, picks.tolist(), strict=True)]
    midnight = _epoch_us(around) // _DAY_US * _DAY_US
    dates_us = midnight + day_offsets * _DAY_US + start_minutes * 60_000_000
    return pl.DataFrame(
        {
            "id": ids,
            "title": pl.Series(titles, dtype=pl.String),
            "date": pl.Series(dates_us, dtype=pl.Int64).cast(UTC_TIME),
            "status": pl.Series(_ITEM_STATUSES, dtype=pl.String).gather(statuses),
        },
        schema=ITEMS_SCHEMA,
    )


def generate_raw_events(rows: int, days: int, seed: int, end: datetime, items: pl.DataFrame, spread: str = NATURAL) -> pl.DataFrame:
    """Raw tracking rows in [end - days, end), grouped in visits of returning visitors; naive `end` is UTC."""
    chunks = list(iter_raw_events(rows, days, seed, end, items, spread=spread))
    return pl.concat(chunks) if chunks else pl.DataFrame(schema=SAMPLE_RAW_EVENTS)


def iter_raw_events(
    rows: int,
    days: int,
    seed: int,
    end: datetime,
    items: pl.DataFrame,
    chunk_rows: int = GENERATE_CHUNK_ROWS,
    spread: str = NATURAL,
) -> Iterator[pl.DataFrame]:
    """The rows of generate_raw_events in consecutive frames of about `chunk_rows`, sorted by timestamp
    across frames, so that memory stays bounded by a chunk and the visitor pool, not by `rows`.

    Up to `chunk_rows` rows are one frame drawn exactly as before chunking (same seed, same rows).
    Beyond, the range is cut into spans of hours, each drawn from its own stream seeded from `seed`;
    the visitors (who return across spans), item popularity and the rows per span are drawn first.

    `spread` NATURAL gives items a Zipf-like popularity and hours a daily and weekly rhythm; EVEN
    makes every item and hour equally likely (more (item, hour) pairs hold rows, closer to the rows
    the plan's PL/pgSQL was timed on), with the same random draws otherwise.
    """
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {', '.join(SPREADS)}, got {spread!r}")
    even = spread == EVEN
    if rows < 0 or days < 1:
        raise ValueError(f"rows must be >= 0 and days >= 1, got rows={rows}, days={days}")
    if items.height == 0:
        raise ValueError("items must not be empty")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if rows == 0:
        return
    rng = np.random.Generator(np.random.PCG64(seed))
    end_us = _epoch_us(end)
    begin_us = end_us - days * _DAY_US
    hours = days * 24
    if rows <= chunk_rows or hours == 1:
        lengths = _draw_visit_lengths(rng, rows)
        pool = _draw_visitor_pool(rng, _pool_size(lengths.size), visits=lengths.size)
        span = _Span(begin_us, end_us, 0, hours)
        frame = _draw_span(rng, lengths, pool, pool["visitor_of_visit"], items, None, span, begin_us, end_us, even)
        frame = frame.sort("timestamp", maintain_order=True).with_columns(id=_draw_uuids(rng, rows))
        counts = [_bad_row_count(rows, rate) for rate in _BAD_ROW_RATES]
        yield _spoil_rows(rng, frame, counts).select(SAMPLE_RAW_EVENTS.names()).cast(dict(SAMPLE_RAW_EVENTS))
        return

    mean = float(_VISIT_LENGTHS @ _VISIT_LENGTH_P)
    pool = _draw_visitor_pool(rng, _pool_size(int(rows / mean) + 1), visits=None)
    item_weights = _item_weights(rng, items, even)
    spans = min(hours, -(-rows // chunk_rows))
    bounds = [hours * k // spans for k in range(spans + 1)]
    weights = _hour_weights(begin_us, hours, even)
    span_weights = np.array([weights[lo:hi].sum() for lo, hi in itertools.pairwise(bounds)])
    rows_per_span = rng.multinomial(rows, span_weights / span_weights.sum())
    # Bad rows: exactly as many of each kind as one frame would hold, spread over the spans.
    kinds = np.repeat(np.arange(len(_BAD_ROW_RATES)), [_bad_row_count(rows, rate) for rate in _BAD_ROW_RATES])
    kinds = rng.permutation(kinds)[: min(rows, kinds.size)]
    bad_per_span = rng.multivariate_hypergeometric(rows_per_span, kinds.size)
    kind_edges = np.concatenate(([0], np.cumsum(bad_per_span)))
    span_seeds = rng.integers(0, 2**63, size=spans)

    carry = pl.DataFrame()
    for k, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        span_rng = np.random.Generator(np.random.PCG64(int(span_seeds[k])))
        span = _Span(begin_us + lo * _HOUR_US, begin_us + hi * _HOUR_US, lo, hi - lo)
        span_rows = int(rows_per_span[k])
        frame = pl.DataFrame()
        if span_rows:
            lengths = _draw_visit_lengths(span_rng, span_rows)
            visitor_of_visit = np.searchsorted(pool["cdf"], span_rng.random(lengths.size), side="right")
            drawn = _draw_span(span_rng, lengths, pool, visitor_of_visit, items, item_weights, span, begin_us, end_us, even)
            drawn = drawn.with_columns(id=_draw_uuids(span_rng, span_rows), _order=pl.col("timestamp"))
            counts = np.bincount(kinds[kind_edges[k] : kind_edges[k + 1]], minlength=len(_BAD_ROW_RATES)).tolist()
            frame = _spoil_rows(span_rng, drawn, counts).select(*SAMPLE_RAW_EVENTS.names(), "_order")
        parts = [part for part in (carry, frame) if part.height]
        if not parts:
            continue
        merged = pl.concat(parts).sort("_order", maintain_order=True)
        # Later spans only hold rows from their own start on, so rows before it are final;
        # visits still going are carried into the next frame.
        last = k == spans - 1
        ready = merged if last else merged.filter(pl.col("_order") < _as_time(span.end_us))
        carry = merged.clear() if last else merged.filter(pl.col("_order") >= _as_time(span.end_us))
        if ready.height:
            yield ready.drop("_order").cast(dict(SAMPLE_RAW_EVENTS))


@dataclass(frozen=True)
class _Span:
    """Hours [first_hour, first_hour + hours) of the range, starting at begin_us and ending at end_us."""

    begin_us: int
    end_us: int
    first_hour: int
    hours: int


def _as_time(epoch_us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=epoch_us)


def _pool_size(visits: int) -> int:
    return max(1, int(visits * _POOL_PER_VISIT))


def _draw_span(
    rng: np.random.Generator,
    lengths: np.ndarray,
    pool: dict,
    visitor_of_visit: np.ndarray,
    items: pl.DataFrame,
    item_weights: np.ndarray | None,
    span: _Span,
    begin_us: int,
    end_us: int,
    even: bool = False,
) -> pl.DataFrame:
    """The visits of one span of hours (ids and bad rows aside), their rows unsorted."""
    rows = int(lengths.sum())
    visits = lengths.size
    visit_of_row = np.repeat(np.arange(visits), lengths)
    first_row_of_visit = np.cumsum(lengths) - lengths
    position = np.arange(rows) - first_row_of_visit[visit_of_row]

    kind_of_visit = pool["kind"][visitor_of_visit]
    bot_row = (kind_of_visit == _BOT)[visit_of_row]

    segments = np.minimum(lengths, 1 + rng.choice(3, size=visits, p=_ITEMS_PER_VISIT_P))
    segment = position * segments[visit_of_row] // lengths[visit_of_row]
    segment_start = (position == 0) | np.concatenate(([True], segment[1:] != segment[:-1]))
    if item_weights is None:
        item_weights = _item_weights(rng, items, even)
    item_of_slot = rng.choice(items.height, size=(visits, 3), p=item_weights)
    item_row = item_of_slot[visit_of_row, segment]
    previous_item_row = item_of_slot[visit_of_row, np.maximum(segment - 1, 0)]

    offsets = _draw_row_offsets(rng, position, first_row_of_visit, visit_of_row, bot_row)
    last_offset = offsets[first_row_of_visit + lengths - 1]
    starts = _draw_visit_starts(rng, visits, begin_us, span.first_hour, span.hours, even)
    # Visits running past the range's end move back by a random margin, so that every row stays
    # inside without piling up on its last microsecond; none moves before its span.
    margin = rng.integers(1, _HOUR_US, size=visits)
    starts = np.where(starts + last_offset >= end_us, end_us - last_offset - margin, starts)
    starts = np.maximum(starts, span.begin_us)
    timestamps = np.clip(starts[visit_of_row] + offsets, begin_us, end_us - 1)

    event_type = _draw_event_types(rng, segment_start, bot_row)
    with_time_on_page = (event_type == 0) & ~bot_row & (rng.random(rows) < _TIME_ON_PAGE_SHARE)
    time_on_page = np.clip(rng.lognormal(np.log(45.0), 1.0, size=rows), 1.0, 600.0)
    whole_seconds = rng.random(rows) < 0.7
    time_on_page = np.where(whole_seconds, np.round(time_on_page), np.round(time_on_page, 1))

    referrer_index, utm_index = _draw_referrers(rng, visits, kind_of_visit)
    bot_sessions = _draw_hex(rng, visits, 16)

    item_ids = items.get_column("id").cast(pl.String)
    referrers = pl.Series([entry for _, _, urls in _REFERRERS for entry in urls], dtype=pl.String)
    utm_values = pl.Series(_flat_utm_values(), dtype=pl.String)
    visit_columns = pl.DataFrame(
        {
            "visit_referrer": referrers.gather(referrer_index),
            "utm": utm_values.gather(pl.Series(utm_index).set(pl.Series(utm_index < 0), None)),
            "bot_session": bot_sessions,
        }
    )
    row_columns = pl.DataFrame(
        {
            "bot": bot_row,
            "segment": segment,
            "time_on_page": pl.Series(time_on_page).set(pl.Series(~with_time_on_page), None),
            "whole_seconds": whole_seconds,
            "event_id": item_ids.gather(item_row),
            "previous_event_id": item_ids.gather(previous_item_row),
            "event_type": pl.Series(_EVENT_TYPES, dtype=pl.String).gather(event_type),
            "timestamp": pl.Series(timestamps, dtype=pl.Int64).cast(UTC_TIME),
        }
    )
    frame = pl.concat(
        [row_columns, visit_columns[visit_of_row], _visitor_columns(pool, visitor_of_visit[visit_of_row])],
        how="horizontal",
    )

    item_url = pl.lit(ITEM_URL_PREFIX) + pl.col("event_id")
    time_on_page_text = (
        pl.when(pl.col("whole_seconds"))
        .then(pl.col("time_on_page").cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("time_on_page").cast(pl.String))
    )
    return frame.with_columns(
        session_id=pl.when(pl.col("bot")).then(pl.col("bot_session")).otherwise(pl.col("session_id")),
        referrer=pl.when(pl.col("segment") > 0)
        .then(pl.lit(ITEM_URL_PREFIX) + pl.col("previous_event_id"))
        .otherwise(pl.col("visit_referrer")),
        page_url=pl.when((pl.col("segment") == 0) & pl.col("utm").is_not_null()).then(item_url + pl.col("utm")).otherwise(item_url),
        metadata=pl.lit("{")
        + pl.concat_str(
            [
                pl.lit('"time_on_page_seconds": ') + time_on_page_text,
                pl.col("demographics"),
            ],
            separator=", ",
            ignore_nulls=True,
        )
        + pl.lit("}"),
    )


def write_items(conn: psycopg.Connection, items: pl.DataFrame) -> int:
    """COPY items into the events table inside the caller's transaction; return the rows written."""
    return _copy_frame(conn, "events", items.select(ITEMS_SCHEMA.names()))


def write_raw_events(conn: psycopg.Connection, events: pl.DataFrame) -> int:
    """COPY raw rows into event_analytics_events inside the caller's transaction; return the rows written."""
    return _copy_frame(conn, "event_analytics_events", events.select(SAMPLE_RAW_EVENTS.names()))


def generate_sample(
    conn: psycopg.Connection,
    rows: int,
    days: int,
    seed: int,
    end: datetime,
    items: int = 200,
    chunk_rows: int = GENERATE_CHUNK_ROWS,
    spread: str = NATURAL,
) -> dict[str, int]:
    """Generate and write items then raw rows (the caller commits); return {'items': n, 'raw_events': n}."""
    item_frame = generate_items(items, seed, around=end)
    written_items = write_items(conn, item_frame)
    # A COPY per chunk: memory stays bounded by a chunk, and no single statement runs for the
    # whole load (a 10M-row COPY outlasted the statement timeout).
    written_rows = sum(write_raw_events(conn, chunk) for chunk in iter_raw_events(rows, days, seed, end, item_frame, chunk_rows, spread))
    return {"items": written_items, "raw_events": written_rows}


def _copy_frame(conn: psycopg.Connection, table: str, frame: pl.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS) -> int:
    """Stream a frame into a table as CSV chunks through one COPY."""
    # NULL is an unquoted empty field; every non-null string is quoted, so '' survives as ''.
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '')").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(name) for name in frame.columns)
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for offset in range(0, frame.height, chunk_rows):
            buffer = io.BytesIO()
            frame.slice(offset, chunk_rows).write_csv(buffer, include_header=False, null_value="", quote_style="non_numeric")
            copy.write(buffer.getbuffer())
    return frame.height


def _epoch_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _hex_ascii(raw: np.ndarray) -> np.ndarray:
    """Lower-case hex digits (as ASCII bytes) of each row of a uint8 matrix, two per byte."""
    digits = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> 4]
    digits[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return digits


def _ascii_series(matrix: np.ndarray) -> pl.Series:
    """One String per row of an ASCII uint8 matrix."""
    width = matrix.shape[1]
    return pl.Series(np.ascontiguousarray(matrix).view(f"S{width}").ravel()).cast(pl.String)


def _draw_hex(rng: np.random.Generator, count: int, nbytes: int) -> pl.Series:
    """Random lower-case hex strings of 2 * nbytes digits."""
    return _ascii_series(_hex_ascii(rng.integers(0, 256, size=(count, nbytes), dtype=np.uint8)))


def _draw_uuids(rng: np.random.Generator, count: int) -> pl.Series:
    """Random version-4 UUIDs in canonical text form."""
    return _format_uuids(_draw_uuid_bytes(rng, count))


def _draw_uuid_bytes(rng: np.random.Generator, count: int) -> np.ndarray:
    """The 16 bytes of random version-4 UUIDs, one per row."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _format_uuids(raw: np.ndarray) -> pl.Series:
    """UUIDs in canonical text form from a matrix of their bytes."""
    count = raw.shape[0]
    digits = _hex_ascii(raw)
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    for start, stop, source in ((0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20)):
        text[:, start:stop] = digits[:, source : source + stop - start]
    return _ascii_series(text)


def _compose_title(kind: str, picks: list[int]) -> str:
    """One item title from a kind and a row of random integers."""
    fields = {
        "artist": _ARTISTS[picks[1] % len(_ARTISTS)],
        "artist2": _ARTISTS[picks[2] % len(_ARTISTS)],
        "venue": _VENUES[picks[3] % len(_VENUES)],
        "genre": _GENRES[picks[4] % len(_GENRES)],
        "tour": _TOURS[picks[4] % len(_TOURS)],
        "city": _CITIES[picks[5] % len(_CITIES)],
        "topic": _TOPICS[picks[6] % len(_TOPICS)],
        "number": picks[2] % 60 + 1,
    }
    templates = {"concert": _CONCERT_TITLES, "show": _SHOWS, "meetup": _MEETUP_TITLES}[kind]
    return templates[picks[0] % len(templates)].format(**fields)


def _draw_visit_lengths(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Rows per visit, summing exactly to `rows` (the last visit is cut short)."""
    mean = float(_VISIT_LENGTHS @ _VISIT_LENGTH_P)
    lengths = rng.choice(_VISIT_LENGTHS, size=int(rows / mean * 1.05) + 16, p=_VISIT_LENGTH_P)
    while lengths.sum() < rows:
        lengths = np.concatenate([lengths, rng.choice(_VISIT_LENGTHS, size=rows // 8 + 16, p=_VISIT_LENGTH_P)])
    last = int(np.searchsorted(np.cumsum(lengths), rows))
    lengths = lengths[: last + 1].astype(np.int64)
    lengths[-1] -= int(lengths.sum()) - rows
    return lengths


def _draw_visitor_pool(rng: np.random.Generator, size: int, visits: int | None) -> dict:
    """Visitors with their lasting attributes (ids, agent, address, demographics), their visit rates
    as a cumulative distribution, and, given `visits`, who made each of that many visits."""
    weights = rng.lognormal(0.0, _POOL_RATE_SIGMA, size=size)
    visitor_of_visit = rng.choice(size, size=visits, p=weights / weights.sum()) if visits is not None else None
    kind = rng.choice(4, size=size, p=_VISITOR_KIND_P)
    # Kept as bytes and indexes (written as text per chunk, for its rows only): a 10M-row sample has
    # 2M visitors, whose text at once peaked at 1 GB.
    user_ids = _draw_uuid_bytes(rng, size)
    session_ids = rng.integers(0, 256, size=(size, 16), dtype=np.uint8)

    human_agents = rng.choice(len(_HUMAN_AGENTS), size=size, p=_normalised([w for _, w in _HUMAN_AGENTS]))
    bot_agents = len(_HUMAN_AGENTS) + rng.choice(len(_BOT_AGENTS), size=size, p=_normalised([w for _, w in _BOT_AGENTS]))
    agent_draw = rng.random(size)
    null_agent = len(_HUMAN_AGENTS) + len(_BOT_AGENTS)
    agent = np.where(kind == _BOT, bot_agents, human_agents)
    agent = np.where((kind != _BOT) & (agent_draw < _NULL_AGENT_SHARE), null_agent, agent)
    agent = np.where(
        (kind != _BOT) & (agent_draw >= _NULL_AGENT_SHARE) & (agent_draw < _NULL_AGENT_SHARE + _EMPTY_AGENT_SHARE),
        null_agent + 1,
        agent,
    )

    with_demographics = (kind == _SIGNED_IN) & (rng.random(size) < _DEMOGRAPHICS_SHARE)
    age = rng.choice(len(_AGE_GROUPS), size=size, p=_AGE_GROUP_P)
    gender = rng.choice(len(_GENDERS), size=size, p=_GENDER_P)
    cdf = np.cumsum(weights)
    return {
        "visitor_of_visit": visitor_of_visit,
        "cdf": cdf / cdf[-1],
        "kind": kind.astype(np.int8),
        "user_ids": user_ids,
        "session_ids": session_ids,
        "agent": agent.astype(np.uint8),
        "with_demographics": with_demographics,
        "age": age.astype(np.uint8),
        "gender": gender.astype(np.uint8),
        "ip_address": _draw_ip_addresses(rng, size),
    }


def _visitor_columns(pool: dict, visitor_of_row: np.ndarray) -> pl.DataFrame:
    """The lasting attributes of the visitor of each row."""
    agents = pl.Series([ua for ua, _ in _HUMAN_AGENTS] + [ua for ua, _ in _BOT_AGENTS] + [None, ""], dtype=pl.String)
    return pl.DataFrame(
        {
            "kind": pool["kind"][visitor_of_row],
            "user_id": _format_uuids(pool["user_ids"][visitor_of_row]),
            "session_id": _ascii_series(_hex_ascii(pool["session_ids"][visitor_of_row])),
            "user_agent": agents.gather(pool["agent"][visitor_of_row]),
            "ip_address": _format_ip_addresses(pool["ip_address"], visitor_of_row),
            "age": pl.Series(_AGE_GROUPS, dtype=pl.String).gather(pool["age"][visitor_of_row]),
            "gender": pl.Series(_GENDERS, dtype=pl.String).gather(pool["gender"][visitor_of_row]),
            "with_demographics": pool["with_demographics"][visitor_of_row],
        }
    ).select(
        user_id=pl.when(pl.col("kind") == _SIGNED_IN).then(pl.col("user_id")),
        session_id=pl.when(pl.col("kind").is_in([_SIGNED_IN, _ANONYMOUS])).then(pl.col("session_id")),
        user_agent=pl.col("user_agent"),
        ip_address=pl.col("ip_address"),
        demographics=pl.when(pl.col("with_demographics")).then(
            pl.format('"age_group": "{}", "gender": "{}"', pl.col("age"), pl.col("gender"))
        ),
    )


def _draw_ip_addresses(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    """Public-looking IPv4 addresses, and some IPv6 ones, as the numbers _format_ip_addresses writes."""
    octets = rng.integers(0, 256, size=(count, 4))
    octets[:, 0] = rng.choice(_IPV4_FIRST_OCTETS, size=count)
    octets[:, 3] = rng.integers(1, 255, size=count)
    v6_bytes = rng.integers(0, 256, size=(count, 8), dtype=np.uint8)
    prefix = rng.choice(len(_IPV6_PREFIXES), size=count)
    is_v6 = rng.random(count) < _IPV6_SHARE
    return {"octets": octets.astype(np.uint8), "v6_bytes": v6_bytes, "prefix": prefix.astype(np.uint8), "is_v6": is_v6}


def _format_ip_addresses(addresses: dict[str, np.ndarray], rows: np.ndarray) -> pl.Series:
    """The text of the addresses at the given positions."""
    octets = addresses["octets"][rows]
    v6_groups = _hex_ascii(addresses["v6_bytes"][rows])
    groups = [_ascii_series(v6_groups[:, i : i + 4]) for i in range(0, 16, 4)]
    return pl.select(
        pl.when(pl.lit(pl.Series(addresses["is_v6"][rows])))
        .then(
            pl.format(
                "{}:{}:{}:{}::{}",
                pl.lit(pl.Series(_IPV6_PREFIXES, dtype=pl.String).gather(addresses["prefix"][rows])),
                *(pl.lit(group) for group in groups),
            )
        )
        .otherwise(pl.concat_str([pl.lit(pl.Series(octets[:, i].astype(np.int64))) for i in range(4)], separator="."))
    ).to_series()


def _item_weights(rng: np.random.Generator, items: pl.DataFrame, even: bool = False) -> np.ndarray:
    """Each item's chance of being looked at: Zipf-like popularity over a random ranking, less for
    drafts and cancelled items; with `even`, the same for all (the ranking is still drawn, so that
    the draws after it stay the same)."""
    rank = rng.permutation(items.height) + 1
    if even:
        return np.full(items.height, 1.0 / items.height)
    weights = 1.0 / rank**_ITEM_ZIPF_EXPONENT
    if "status" in items.columns:
        status = items.get_column("status").cast(pl.String).fill_null("approved")
        weights = weights * status.replace_strict(_ITEM_STATUS_WEIGHT, default=1.0, return_dtype=pl.Float64).to_numpy()
    return weights / weights.sum()


def _draw_row_offsets(
    rng: np.random.Generator,
    position: np.ndarray,
    first_row_of_visit: np.ndarray,
    visit_of_row: np.ndarray,
    bot_row: np.ndarray,
) -> np.ndarray:
    """Microseconds from each row's visit start: human pauses of seconds to minutes, quick bot fetches."""
    rows = position.size
    gaps = np.clip(rng.lognormal(np.log(_GAP_MEDIAN_SECONDS), _GAP_SIGMA, size=rows), 1.0, _GAP_MAX_SECONDS)
    long_gaps = rng.uniform(_LONG_GAP_MINUTES[0] * 60, _LONG_GAP_MINUTES[1] * 60, size=rows)
    gaps = np.where(rng.random(rows) < _LONG_GAP_SHARE, long_gaps, gaps)
    gaps = np.where(bot_row, rng.uniform(0.2, 5.0, size=rows), gaps)
    gaps_us = (gaps * 1e6).astype(np.int64)
    gaps_us[position == 0] = 0
    elapsed = np.cumsum(gaps_us)
    return elapsed - elapsed[first_row_of_visit][visit_of_row]


def _hour_weights(begin_us: int, hours: int, even: bool = False) -> np.ndarray:
    """How busy each hour from begin_us on is: the daily and weekly rhythm, or none with `even`."""
    if even:
        return np.ones(hours)
    hour_starts = begin_us + np.arange(hours, dtype=np.int64) * _HOUR_US
    hour_of_day = (hour_starts // _HOUR_US) % 24
    weekday = (hour_starts // _DAY_US + 3) % 7  # 1970-01-01 was a Thursday
    return _HOUR_WEIGHTS[hour_of_day] * _WEEKDAY_WEIGHTS[weekday]


def _draw_visit_starts(rng: np.random.Generator, visits: int, begin_us: int, first_hour: int, hours: int, even: bool = False) -> np.ndarray:
    """Visit start instants in hours [first_hour, first_hour + hours) after begin_us, following the rhythm."""
    hour_starts = begin_us + np.arange(first_hour, first_hour + hours, dtype=np.int64) * _HOUR_US
    weights = _hour_weights(hour_starts[0], hours, even)
    chosen = rng.choice(hour_starts.size, size=visits, p=weights / weights.sum())
    return hour_starts[chosen] + rng.integers(0, _HOUR_US, size=visits)


def _draw_event_types(rng: np.random.Generator, segment_start: np.ndarray, bot_row: np.ndarray) -> np.ndarray:
    """Positions in _EVENT_TYPES: landings are views, bots only view, the rest matches _EVENT_TYPE_P."""
    human = ~bot_row
    landing_share = float((segment_start & human).sum()) / max(1, int(human.sum()))
    rest = _EVENT_TYPE_P / max(1e-9, 1.0 - landing_share)
    rest[0] = max(0.0, _EVENT_TYPE_P[0] - landing_share) / max(1e-9, 1.0 - landing_share)
    drawn = rng.choice(len(_EVENT_TYPES), size=segment_start.size, p=rest / rest.sum())
    return np.where(segment_start | bot_row, 0, drawn)


def _flat_utm_values() -> list[str]:
    """Campaign parameter strings in the order _draw_referrers indexes them."""
    values = [value for _, options in _UTM.values() for value in options]
    return values + list(_OTHER_UTM[1])


def _draw_referrers(rng: np.random.Generator, visits: int, kind_of_visit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per visit, the landing referrer (position in the flat list) and campaign (position, -1 for none)."""
    categories = [category for category, _, _ in _REFERRERS]
    counts = np.array([len(urls) for _, _, urls in _REFERRERS])
    firsts = np.cumsum(counts) - counts
    category = rng.choice(len(_REFERRERS), size=visits, p=_normalised([w for _, w, _ in _REFERRERS]))
    # Crawlers and link previews arrive without a referrer.
    category = np.where(kind_of_visit == _BOT, categories.index("direct"), category)
    within = (rng.random(visits) * counts[category]).astype(np.int64)
    direct_first = firsts[categories.index("direct")]
    referrer = np.where(kind_of_visit == _BOT, direct_first, firsts[category] + within)

    utm_share = np.array([_UTM.get(name, _OTHER_UTM)[0] for name in categories])
    utm_options = [_UTM.get(name, _OTHER_UTM)[1] for name in categories]
    utm_counts = np.array([len(options) for options in utm_options])
    other_first = sum(len(options) for _, options in _UTM.values())
    utm_firsts = np.array([_utm_first(name) if name in _UTM else other_first for name in categories])
    with_utm = (rng.random(visits) < utm_share[category]) & (kind_of_visit != _BOT)
    utm_within = (rng.random(visits) * utm_counts[category]).astype(np.int64)
    utm = np.where(with_utm, utm_firsts[category] + utm_within, -1)
    return referrer, utm


def _utm_first(name: str) -> int:
    """Position of a category's first campaign string in _flat_utm_values()."""
    position = 0
    for category, (_, options) in _UTM.items():
        if category == name:
            return position
        position += len(options)
    raise KeyError(name)


def _spoil_rows(rng: np.random.Generator, frame: pl.DataFrame, counts: list[int]) -> pl.DataFrame:
    """Plant the bad rows the tracker really sends: unknown types, no item, no timestamp (disjoint
    rows, as many of each as `counts` says, in the order of _BAD_ROW_RATES)."""
    rows = frame.height
    chosen = rng.choice(rows, size=min(rows, sum(counts)), replace=False)
    masks = []
    start = 0
    for count in counts:
        mask = np.zeros(rows, dtype=bool)
        mask[chosen[start : start + count]] = True
        masks.append(pl.Series(mask))
        start += count
    unknown = pl.Series(_UNKNOWN_TYPES, dtype=pl.String).gather(rng.integers(0, len(_UNKNOWN_TYPES), size=rows))
    return frame.with_columns(
        event_type=pl.when(pl.lit(masks[0])).then(pl.lit(unknown)).otherwise(pl.col("event_type")),
        event_id=pl.when(pl.lit(masks[1])).then(None).otherwise(pl.col("event_id")),
        timestamp=pl.when(pl.lit(masks[2])).then(None).otherwise(pl.col("timestamp")),
    )


def _bad_row_count(rows: int, rate: float) -> int:
    """Exact number of bad rows of one kind; at least one once a sample is big enough to show it."""
    count = round(rows * rate)
    return max(count, 1) if rows >= _BAD_ROWS_FLOOR_FROM else count


def _normalised(weights: list[float]) -> np.ndarray:
    """Weights scaled to sum to one."""
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()
