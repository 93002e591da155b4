"""The pages' default views, and a background thread that computes them once per snapshot.

When a dashboard process first sees a snapshot (at start, or after a flow published a
new one), `start(snapshot_dir)` loads the search model and index and runs every query the
pages make with their default widgets, each through the same cache the pages read
(dashboard/ui.py). So no visitor waits for the first computation of a page, nor for the
model to load at the first search. The constants here are those defaults; the pages use
them, so what is warmed is what is asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from core.settings import Settings
from dashboard import queries

log = logging.getLogger("paperradar.dashboard")

TOP_TOPICS = 8  # Trends: topics in the chart
EMERGING_ROWS = 25  # Trends: rows of the emerging-topics table
TOP_CATEGORIES = 10  # Trends: categories in the chart
CODE_CATEGORIES = 8  # Code: categories in the chart
CODE_ROWS = 30  # Code: rows of the topic and venue tables
NEWEST_OFFICIAL = 25  # Code: newest papers with official code
VENUE_PAPERS = 500  # Venues: papers listed for a venue


def default_calls(query: Callable[..., Any]) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
    """(function, arguments) of every query the pages make with their default widgets;
    `query` (ui.query) answers the ones whose arguments depend on earlier answers."""
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (queries.overview, ()), (queries.filter_options, ()), (queries.has_views, ()),
    ]
    if not query(queries.has_views):
        return calls
    calls.append((queries.digest_preview, (Settings().categories,)))
    calls.append((queries.watchlists, ()))
    watching = query(queries.watchlists)
    if not watching.empty:  # the Watchlists page opens on the first one
        calls.append((queries.watch_matches, (watching["name"].iloc[0], queries.WATCH_ROWS)))
    calls += [
        (queries.has_topics, ()),
        (queries.code_over_time, ("month", None)),
        (queries.code_by_category, (None, CODE_CATEGORIES)),
        (queries.code_by_venue, (CODE_ROWS,)),
        (queries.days_to_code, ()),
        (queries.newest_official_code, (NEWEST_OFFICIAL,)),
        (queries.venue_table, ()), (queries.venue_years, ()),
        (queries.category_trends, ("week", None, TOP_CATEGORIES)),
        (queries.papers_per_day, (queries.GAP_DAYS,)),
    ]
    years = query(queries.venue_years)
    if not years.empty:
        calls.append((queries.venue_papers, (years["venue"].iloc[0], VENUE_PAPERS)))
    if query(queries.has_topics):
        calls += [
            (queries.topic_trends, ("week", "fine", None, TOP_TOPICS)),
            (queries.topic_choices, ("fine",)),
            (queries.code_by_topic, ("fine", CODE_ROWS)),
        ]
        emerging = query(queries.emerging_topics, "fine", None, EMERGING_ROWS)
        first = query(queries.topic_choices, "fine")
        top = emerging if not emerging.empty else first
        if not top.empty:
            calls.append((queries.topic_detail, (int(top["topic_id"].iloc[0]),)))
    return calls


def run(snapshot_dir: str, query: Callable[..., Any], extra: list[Callable[[], Any]]) -> None:
    """Compute every default view of `snapshot_dir` through `query`, then `extra` (the
    searcher, the health report); a failure is logged and skipped, never raised."""
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
    _quietly(lambda: calls.extend(default_calls(query)), "the list of default views")
    for fn, args in calls:
        _quietly(partial(query, fn, *args), fn.__name__)
    for more in extra:
        _quietly(more, getattr(more, "__name__", "extra"))
    log.info("dashboard: default views of %s computed", snapshot_dir)


def start(snapshot_dir: str, query: Callable[..., Any], extra: list[Callable[[], Any]],
          prepare: Callable[[threading.Thread], Any] | None = None) -> threading.Thread:
    """`run` in a daemon thread (returned: tests join it); `prepare` sees it before it starts."""
    thread = threading.Thread(target=run, args=(snapshot_dir, query, extra),
                              name="paperradar-warm", daemon=True)
    if prepare is not None:
        prepare(thread)
    thread.start()
    return thread


def _quietly(fn: Callable[[], Any], name: str) -> None:
    try:
        fn()
    except Exception as exc:  # the page shows the problem when someone opens it
        log.info("dashboard: warming %s failed: %s", name, exc)
