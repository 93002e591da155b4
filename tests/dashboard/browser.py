"""Drive a running dashboard with a real headless Chromium (Playwright on the system browser).

Shared by tests/dashboard/test_browser.py and bench/dashboard.py: start `paperradar
dashboard` on a free port, wait for Streamlit's health endpoint, open pages, wait for
their key text and for the script run to finish, check that no error is on screen.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("PAPERRADAR_CHROMIUM", "/usr/bin/chromium")
START_TIMEOUT_S = 90
# Page url path -> text each page must show once rendered on a populated snapshot.
PAGES = {
    "": ("Search", "Type what you are looking for"),
    "trends": ("Trends", "Emerging topics"),
    "venues": ("Venues", "Accepted papers per venue and year"),
    "code": ("Code", "Share of papers with code over time"),
    "digests": ("Digests", "This week so far"),
    "watchlists": ("Watchlists", "No watchlists yet"),
    "health": ("Health", "Freshness per source"),
    "sql": ("SQL", "Example queries"),
}
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]')
ERROR_TEXTS = ("Traceback", "Something went wrong")


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def dashboard_server(home: Path, log: Path, port: int | None = None) -> Iterator[str]:
    """`paperradar dashboard --port P` on `home` as a subprocess; yields its base URL."""
    port = port or free_port()
    env = {**os.environ, "PAPERRADAR_HOME": str(home), "PAPERRADAR_DEVICE": "cpu"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "dashboard", "--port", str(port),
             "--address", "127.0.0.1"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the dashboard did not answer within {START_TIMEOUT_S}s: "
                       f"{log.read_text()[-2000:]}")


@contextmanager
def browser(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A Playwright page in headless system Chromium."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no chromium: apt-get install -y chromium")
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=path, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = chrome.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            chrome.close()


_RENDERED = """([texts]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const main = document.querySelector('[data-testid="stMain"]');
    if (!app || !main || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const shown = main.textContent;
    return texts.every((t) => shown.includes(t));
}"""


def wait_rendered(page: Any, *texts: str, timeout_s: float = 60) -> None:
    """Wait until every text is in the main area and Streamlit's script run has finished,
    checked at each animation frame (Playwright's own retries wait up to 500 ms between
    tries, too coarse for timing)."""
    page.wait_for_function(_RENDERED, arg=[list(texts)], polling="raf", timeout=timeout_s * 1000)


def errors_on_screen(page: Any) -> list[str]:
    """Error elements and error words in the rendered page (empty when all is well)."""
    found = []
    for selector in ERROR_SELECTORS:
        for element in page.locator(selector).all():
            found.append(f"{selector}: {element.inner_text()[:200]}")
    text = page.locator('[data-testid="stMain"]').inner_text()
    found += [f"text {word!r}" for word in ERROR_TEXTS if word in text]
    return found


def open_page(page: Any, base: str, path: str, *texts: str, timeout_s: float = 60) -> float:
    """Load `base/path`, wait for `texts` and the end of the run; seconds it took."""
    started = time.perf_counter()
    page.goto(f"{base}/{path}", wait_until="domcontentloaded")
    wait_rendered(page, *texts, timeout_s=timeout_s)
    return time.perf_counter() - started


def search(page: Any, query: str, timeout_s: float = 60) -> float:
    """Type `query` into the search box and press Enter; seconds until the results show."""
    box = page.get_by_placeholder("describe the paper you are looking for")
    box.fill(query)
    started = time.perf_counter()
    box.press("Enter")
    wait_rendered(page, f'papers for "{query}"', timeout_s=timeout_s)
    return time.perf_counter() - started


def navigate(page: Any, title: str, *texts: str, timeout_s: float = 60) -> float:
    """Click the sidebar link `title` (in-app navigation: no page load, the same session)
    and wait for `texts` and the end of the run; seconds it took."""
    link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first
    started = time.perf_counter()
    link.click()
    wait_rendered(page, *texts, timeout_s=timeout_s)
    return time.perf_counter() - started
