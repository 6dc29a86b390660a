"""Screenshots of the browser tests' pages, kept in PORTAL_SCREENSHOT_DIR (test.sh sets it)."""

import contextlib
import os
import re
from pathlib import Path


def shot(page, name: str) -> None:
    """The whole page as name.png; nothing without PORTAL_SCREENSHOT_DIR (pytest by hand)."""
    folder = os.environ.get("PORTAL_SCREENSHOT_DIR", "")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def shoot_failed(contexts, test_name: str) -> None:
    """Every page still open when a test failed, as it was then: failed-<test>-<n>.png."""
    from playwright.sync_api import Error

    stem = re.sub(r"[^\w.-]+", "-", test_name).strip("-")
    pages = [page for context in contexts for page in context.pages]
    for n, page in enumerate(pages, 1):
        # A crashed or closed page: the test's own failure is what must be reported.
        with contextlib.suppress(Error):
            shot(page, f"failed-{stem}-{n}")
