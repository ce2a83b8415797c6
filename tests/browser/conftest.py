"""The browser tests' fixtures: Debian's chromium (installed by `make test` through
infra/local/ensure-services.sh; Playwright's own browser download is not used) driven by Playwright, against
the real platform of tests/fixtures.py (`demo_platform`), logged in through the real login page."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("SANJI_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    assert path, "chromium is missing: `make test` installs it (infra/local/ensure-services.sh)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


class Staff:
    """One person in their own browser context (own cookies), logged in through the login page."""

    def __init__(self, browser, platform, username: str, viewport: dict | None = None):
        user = next(u for u in platform.users if u["username"] == username)
        self.base = platform.gateway_url
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale="zh-CN")
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.page.goto(f"{self.base}/console")            # → /console/login → the provider's login form
        self.page.fill("#sub", username)
        self.page.fill("#password", user["password"])
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(f"{self.base}/console")

    def goto(self, path: str):
        return self.page.goto(self.base + path)

    def close(self):
        self.context.close()


@pytest.fixture
def staff(browser, demo_platform):
    opened: list[Staff] = []

    def login(username: str, viewport: dict | None = None) -> Staff:
        s = Staff(browser, demo_platform, username, viewport)
        opened.append(s)
        return s
    yield login
    for s in opened:
        s.close()
