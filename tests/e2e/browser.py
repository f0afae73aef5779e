"""Headless Chromium (Debian's ``chromium`` package) driven by Playwright, logged into the Airflow UI."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
#: No network beyond loopback, no first-run chores, no sandbox (CI runs as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """
    Yield a Playwright page of a fresh headless Chromium with an empty profile; close it after.

    Uses the system's Chromium (``executable_path``), never a browser Playwright downloads.

    :param width: viewport width in pixels.
    :param height: viewport height in pixels.
    """
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="batchstream-e2e-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
            )
            try:
                yield context.pages[0] if context.pages else context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def log_in(page: Any, base_url: str, username: str, password: str) -> None:
    """
    Sign in through SimpleAuthManager's login form, as a person would.

    :param page: a Playwright page.
    :param base_url: the api-server's address.
    :param username: the user's name.
    :param password: the user's password.
    """
    page.goto(f"{base_url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/", timeout=30_000)
