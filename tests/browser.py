"""A real headless Chromium for the browser tests: Debian's package (scripts/chromium.sh installs it), driven
by Playwright through `executable_path`.

`launched_chromium()` yields a Playwright `Browser`. A browser that cannot be had raises
`ChromiumUnavailable` with the script's output: the browser tests fail, never skip.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "chromium.sh"
INSTALL_TIMEOUT_S = 600

# Without the background-networking flags Chromium keeps dialling Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class ChromiumUnavailable(Exception):
    """scripts/chromium.sh found no browser and could not install one; the message carries its output."""


def chromium_executable() -> str:
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ChromiumUnavailable(f"{SCRIPT.name} took over {INSTALL_TIMEOUT_S} s") from exc
    if done.returncode != 0:
        raise ChromiumUnavailable(f"{SCRIPT.name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def launched_chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
