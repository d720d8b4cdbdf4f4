"""Browser tests: headless Chromium driven by Playwright's sync API against pytest-django's live server."""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DEMO_PASSWORD = "demo-password"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def demo(roles, settings, tmp_path):
    """The demo data of ``seed_demo``; rendered PDFs go to this test's own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("seed_demo", stdout=StringIO())


@pytest.fixture
def login(browser, live_server, demo):
    """A logged-in admin page for a demo user, each in its own browser context: ``login("clerk")``."""
    contexts = []

    def log_in(username: str):
        context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))
        return page

    yield log_in
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Save the whole page for a reviewer to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
