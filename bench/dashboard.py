"""Dashboard speed on an indexed corpus: each page's first render and the search interaction.

    python -m bench.dashboard --home H [--queries 20] [--screenshots docs] [--record]

H is a PAPERRADAR_HOME holding the 71,990-paper daily-arXiv corpus, ingested, enriched and
indexed (read only: nothing is written there). Two views of the same pages:

- browser: `paperradar dashboard` started on H, driven by headless Chromium (Playwright on
  the system browser, as tests/dashboard/test_browser.py does). A page's time runs from
  the click on its link in the sidebar to its key text on screen with Streamlit's script
  run finished. The server is warm: one search loaded the model and the index (its time
  is reported apart) and the background warm-up of dashboard/warm.py had WARM_WAIT_S to
  compute the pages' default views. "first" is the first visit of the page, "again" the
  next. Opening the app in a new browser session (Streamlit's JavaScript fetched and
  started, empty HTTP cache) is reported apart.
  The search interaction is typing a query and pressing Enter until the results for
  that query are on screen, over --queries distinct known-item queries.
- script: the same page scripts run in-process by streamlit.testing.v1.AppTest (server-side
  time only: queries, searcher, element building). "first" with the data caches cleared
  and no warm-up: every query of the page computed on the spot, what a visitor arriving
  before the warm-up finished would wait at most (server side); "again" cached.

Targets (issue #10): each page's first render <= 2 s, search interaction <= 500 ms (warm).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
# url path -> (page file, key text once rendered)
PAGES = {
    "": ("search", ("Search", "Type what you are looking for")),
    "trends": ("trends", ("Emerging topics", "Topic detail")),
    "venues": ("venues", ("Accepted papers per venue and year", "Browse a venue")),
    "code": ("code", ("Share of papers with code over time", "Newest papers with official code")),
    "digests": ("digests", ("Digests", "This week so far")),
    "watchlists": ("watchlists", ("Watchlists", "Recent matches of")),
    "health": ("health", ("Freshness per source", "Index consistency")),
    "sql": ("sql", ("Example queries",)),
}
TARGET_PAGE_S = 2.0
WARM_WAIT_S = 20  # after the first search, for the background warm-up to finish
TARGET_SEARCH_S = 0.5


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=root).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "dashboard", "core", "index"],
                           capture_output=True, text=True, cwd=root).stdout.strip()
    return sha + (" + working tree" if dirty else "")


def _queries(n: int) -> list[str]:
    from bench.known_items import load_known_items

    return [item.query for item in load_known_items()][:n]


def browser_times(home: Path, queries: list[str], shots: Path | None) -> dict[str, Any]:
    from tests.dashboard import browser as b

    out: dict[str, Any] = {"pages": {}, "search": [], "app_start": []}
    log = Path(tempfile.mkdtemp()) / "dashboard.log"
    with b.dashboard_server(home, log) as url, b.browser() as page:
        started = time.perf_counter()
        b.open_page(page, url, "", *PAGES[""][1], timeout_s=300)
        b.search(page, "warm up the model and the index", timeout_s=300)
        out["warm_up_s"] = time.perf_counter() - started
        time.sleep(WARM_WAIT_S)  # the background warm-up (dashboard/warm.py) finishes
        chrome = page.context.browser
        for _ in range(2):  # the app opened in a new browser session (empty HTTP cache)
            fresh = chrome.new_page(viewport={"width": 1400, "height": 1000})
            out["app_start"].append(b.open_page(fresh, url, "sql", *PAGES["sql"][1]))
            fresh.close()
        tab = chrome.new_page(viewport={"width": 1400, "height": 1000})
        b.open_page(tab, url, "digests", *PAGES["digests"][1])
        for visit in range(2):  # first visit of each page (data caches cold), then again
            for _path, (name, texts) in PAGES.items():
                seconds = b.navigate(tab, name.capitalize() if name != "sql" else "SQL", *texts,
                                     timeout_s=120)
                out["pages"].setdefault(name, []).append(seconds)
                errors = b.errors_on_screen(tab)
                if errors:
                    raise RuntimeError(f"{name}: {errors}")
                if shots is not None and visit == 1 and name in ("trends", "code", "health", "digests", "watchlists"):
                    tab.screenshot(path=str(shots / f"dashboard-{name}.png"))
        b.navigate(tab, "Search", *PAGES[""][1])
        for query in queries:
            out["search"].append(b.search(tab, query))
        if shots is not None:
            b.search(tab, "diffusion models for video generation")
            tab.screenshot(path=str(shots / "dashboard-search.png"))
        tab.close()
    return out


def script_times(home: Path, queries: list[str]) -> dict[str, Any]:
    import streamlit as st
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    config.set_option("runner.magicEnabled", False)  # as `paperradar dashboard` runs it

    os.environ["PAPERRADAR_HOME"] = str(home)
    out: dict[str, Any] = {"pages": {}, "search": []}
    started = time.perf_counter()
    at = AppTest.from_file(APP, default_timeout=600)
    at.query_params["q"] = "warm up the model and the index"
    at.run()
    out["warm_up_s"] = time.perf_counter() - started
    from core.publish import current_snapshot
    from dashboard import ui

    ui.warm_up(str(current_snapshot(home).path)).join()  # once per snapshot: not again
    st.cache_data.clear()  # so "first" computes every query of the page
    for _path, (name, _texts) in PAGES.items():
        times = []
        for _ in range(2):
            at = AppTest.from_file(APP, default_timeout=600).run()  # a new session
            start = time.perf_counter()
            if name != "search":
                at.switch_page(f"pages/{name}.py")
            at.run()
            times.append(time.perf_counter() - start)
            if at.exception or at.error:
                raise RuntimeError(f"{name}: {[e.value for e in [*at.exception, *at.error]]}")
        out["pages"][name] = times
    at = AppTest.from_file(APP, default_timeout=600).run()
    for query in queries:
        start = time.perf_counter()
        at.text_input(key="q").input(query).run()
        out["search"].append(time.perf_counter() - start)
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def report(browser: dict[str, Any] | None, script: dict[str, Any], meta: dict[str, str]) -> str:
    lines = [f"## {meta['date']} — dashboard first render and search (`bench/dashboard.py`)", "",
             f"Machine: {meta['machine']}; load average {meta['load']} at the start. "
             f"Commit {meta['commit']}. Command: `{meta['command']}`. Corpus: {meta['corpus']}.",
             ""]
    head = "| page | browser: first visit | browser: again | script: first | script: again |"
    lines += [head, "|---|---|---|---|---|"]
    for name in script["pages"]:
        b = browser["pages"][name] if browser else None
        s = script["pages"][name]
        lines.append(f"| {name} | {_ms(b[0]) if b else 'n/a'} | {_ms(b[1]) if b else 'n/a'} | "
                     f"{_ms(s[0])} | {_ms(s[1])} |")
    lines.append("")
    rows = [("script", script)] + ([("browser", browser)] if browser else [])
    lines += ["| search interaction | queries | p50 | p90 | max |", "|---|---|---|---|---|"]
    for name, data in rows:
        times = sorted(data["search"])
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        lines.append(f"| {name} (type + Enter to results) | {len(times)} | "
                     f"{_ms(statistics.median(times))} | {_ms(p90)} | {_ms(times[-1])} |")
    lines.append("")
    if browser:
        lines.append(f"Opening the app in a new browser session (JavaScript fetched and started, "
                     f"then the SQL page): {', '.join(_ms(t) for t in browser['app_start'])}.")
    warm = [f"script {script['warm_up_s']:.1f} s"] + (
        [f"browser {browser['warm_up_s']:.1f} s"] if browser else [])
    worst_page = max(max(v) for v in (browser or script)["pages"].values())
    worst_search = max((browser or script)["search"])
    lines.append(
        f"Loading the model, the index and the keyword postings once per process (not in the "
        f"times above): {', '.join(warm)}. Slowest page {_ms(worst_page)} (target "
        f"{_ms(TARGET_PAGE_S)}), slowest search {_ms(worst_search)} (target "
        f"{_ms(TARGET_SEARCH_S)}).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--screenshots", type=Path, help="save screenshots here (e.g. docs)")
    parser.add_argument("--no-browser", action="store_true", help="script timings only")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()

    from bench.embed import machine
    from core.publish import current_snapshot
    from core.store import Store

    home = args.home.resolve()
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        papers = db.query("SELECT count(*) FROM papers WHERE NOT withdrawn")[1][0][0]
    meta = {
        "date": datetime.now(UTC).date().isoformat(), "machine": machine(),
        "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()), "commit": _commit(),
        "command": "python -m bench.dashboard --home H" + (
            f" --queries {args.queries}" if args.queries != 20 else ""),
        "corpus": f"{papers:,} papers ({home.name})",
    }
    queries = _queries(args.queries)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    browser = None if args.no_browser else browser_times(home, queries, args.screenshots)
    script = script_times(home, queries)
    text = report(browser, script, meta)
    print(text)
    if args.record:
        results = Path(__file__).with_name("RESULTS.md")
        with results.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
