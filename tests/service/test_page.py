"""The analytics page in a real headless Chromium (Debian's chromium and chromium-driver, installed
here when missing): it renders the item's figures as the database holds them, with no CDN."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from data.sample import generate_sample
from flows.runs import hourly
from tests.service.conftest import closed_hour_as_of, current_hour

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT_DIR = Path(os.environ.get("ANALYTICS_SCREENSHOT_DIR", "/tmp"))


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium and its driver, installed with apt-get when they are missing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        apt = shutil.which("apt-get")
        if apt is None:
            pytest.fail(
                "chromium is missing and apt-get is not available to install it; install chromium and chromium-driver", pytrace=False
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run([apt, "install", "-y", "-q", "chromium", "chromium-driver"], check=True, env=env, capture_output=True)
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1800", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_the_page_shows_the_items_figures(database_url, prefect_server, serve_factory, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with psycopg.connect(database_url) as conn:
        generate_sample(conn, rows=6000, days=3, seed=5, end=current_hour(), items=3)
    hourly(as_of=closed_hour_as_of(), lookback_hours=80)
    with psycopg.connect(database_url) as conn:
        item, views, uniques, clicks, sources = conn.execute(
            "select event_id::text, total_views, total_unique_views, total_clicks, traffic_sources from event_analytics_summary order by total_views desc limit 1"
        ).fetchone()
        day_views = conn.execute(
            "select coalesce(sum(views_count), 0) from event_analytics where event_id = %s and period_type = 'day' and period_end <= now() and period_start >= now() - interval '90 days'",
            (item,),
        ).fetchone()[0]
        genders = conn.execute("select genders from event_analytics where event_id = %s and period_type = 'all_time'", (item,)).fetchone()[
            0
        ]
    service = serve_factory()

    browser.get(f"{service.base_url}/events/{item}/analytics")
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") in ("true", "error"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", browser.find_element(By.ID, "status").text

    def card(metric: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, f'.card[data-metric="{metric}"] .value').text

    assert card("total_views") == f"{views:,}"
    assert card("total_unique_views") == f"{uniques:,}"
    assert card("total_clicks") == f"{clicks:,}"
    source_rows = {
        row.get_attribute("data-key"): int(row.get_attribute("data-count"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#sources .bar-row")
    }
    assert len(source_rows) == min(10, len(sources)) and all(sources[key] == count for key, count in source_rows.items())
    assert max(source_rows.values()) == max(sources.values())
    assert browser.find_elements(By.CSS_SELECTOR, "#devices .bar-row")
    gender_rows = {
        row.get_attribute("data-key"): int(row.get_attribute("data-count"))
        for row in browser.find_elements(By.CSS_SELECTOR, "#genders .bar-row")
    }
    assert gender_rows == genders
    timeline = browser.find_element(By.ID, "timeline")
    assert timeline.get_attribute("data-period") == "day"
    assert int(timeline.get_attribute("data-total-views")) == day_views
    assert len(browser.find_elements(By.CSS_SELECTOR, "#heatmap rect")) == 7 * 24
    assert int(browser.find_element(By.ID, "heatmap").get_attribute("data-total-views")) > 0
    browser.save_screenshot(str(SCREENSHOT_DIR / "analytics-page.png"))

    browser.find_element(By.CSS_SELECTOR, '#period-selector button[data-period="hour"]').click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "timeline").get_attribute("data-period") == "hour")
    assert int(browser.find_element(By.ID, "timeline").get_attribute("data-points")) > 0

    # Everything the page loaded came from the service itself.
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(service.base_url) for name in loaded)
