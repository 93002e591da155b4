"""The dashboard in a real headless Chromium: `paperradar dashboard` started on the populated
snapshot, each page loaded and checked for its key text and for no error on screen, a
search typed, the SQL page's refusal seen; screenshots saved (PAPERRADAR_SCREENSHOTS=DIR
keeps them there, e.g. docs/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import browser as b

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(dashboard_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("playwright", reason="pip install playwright (the Python package only; "
                        "it drives the system chromium)")
    if b.chromium_path() is None:
        pytest.skip("no chromium here: `apt-get install -y chromium` (.ci/run installs it)")
    log = tmp_path_factory.mktemp("dashboard-log") / "server.log"
    with b.dashboard_server(dashboard_home, log) as url:
        yield url


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    with b.browser() as page:
        yield page


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("PAPERRADAR_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("path", list(b.PAGES))
def test_each_page_renders_in_a_browser(path: str, server: str, page: Any, shots: Path) -> None:
    seconds = b.open_page(page, server, path, *b.PAGES[path])
    assert b.errors_on_screen(page) == []
    shot = shots / f"dashboard-{path or 'search'}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert seconds < 60


def test_search_in_a_browser(server: str, page: Any, shots: Path) -> None:
    b.open_page(page, server, "", *b.PAGES[""])
    b.search(page, "machine translation for low-resource languages")
    assert b.errors_on_screen(page) == []
    links = page.locator('[data-testid="stMain"] a[href^="https://arxiv.org/abs/"]')
    assert links.count() == 10
    assert "q=machine+translation" in page.url  # the URL holds the search: shareable
    page.screenshot(path=str(shots / "dashboard-search-results.png"))
    # the shared URL opened afresh shows the same results
    first = links.first.get_attribute("href")
    page.goto(page.url)
    b.wait_rendered(page, 'papers for "machine translation')
    assert page.locator('[data-testid="stMain"] a[href^="https://arxiv.org/abs/"]'
                        ).first.get_attribute("href") == first


def test_sql_refusal_in_a_browser(server: str, page: Any) -> None:
    b.open_page(page, server, "sql", *b.PAGES["sql"])
    box = page.locator("textarea").first
    box.fill("DROP TABLE papers")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("DROP is not allowed", exact=False).first.wait_for(timeout=30_000)
    box.fill("SELECT count(*) AS n FROM papers")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("1 rows in", exact=False).first.wait_for(timeout=30_000)
    assert b.errors_on_screen(page) == []
