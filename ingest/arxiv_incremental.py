"""Incremental arXiv API ingestion: which windows to fetch, and remembering how far it got.

Each category has a watermark in `ingest_state` (source `arxiv_api`): the last submission
day fully fetched. A run without `--since` starts LOOKBACK_DAYS before it, because arXiv
announces submissions late (weekends, holidays, moderation); the overlap costs nothing,
upserts are idempotent. Windows are fetched in chunks of CHUNK_DAYS, oldest first, and
each finished chunk is recorded at once, so a run killed at any point resumes from the
last finished chunk: from the watermark, or, for an explicit `--since` window, from a
progress mark kept until that window is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from core.records import Paper
from core.store import Store
from ingest.arxiv_api import ArxivAPIClient

LOOKBACK_DAYS = 5
CHUNK_DAYS = 7
WATERMARK = "arxiv_api"
PROGRESS = "arxiv_api_progress"


@dataclass(frozen=True)
class Window:
    """Categories to fetch for submissions in [start, end]; `resume_key` names its progress
    mark when the window was asked for explicitly."""

    categories: tuple[str, ...]
    start: date
    end: date
    resume_key: str | None = None


def plan(store: Store, categories: Iterable[str], since: date | None, until: date,
         today: date) -> list[Window]:
    """The windows a run fetches; categories that need the same window share one query."""
    groups: dict[tuple[date, date], list[str]] = {}
    for cat in categories:
        start = since
        if start is None:
            mark = store.get_state(WATERMARK, cat)
            base = date.fromisoformat(mark) if mark else today
            start = min(base, until) - timedelta(days=LOOKBACK_DAYS)
        groups.setdefault((start, until), []).append(cat)
    return [
        Window(tuple(cats), start, end,
               f"{','.join(cats)}|{start}|{end}" if since is not None else None)
        for (start, end), cats in groups.items()
    ]


def chunks(start: date, end: date, days: int = CHUNK_DAYS) -> Iterator[tuple[date, date]]:
    while start <= end:
        stop = min(start + timedelta(days=days - 1), end)
        yield start, stop
        start = stop + timedelta(days=1)


def ingest(
    store: Store,
    client: ArxivAPIClient,
    windows: list[Window],
    counts: dict[str, Any],
    max_results: int | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> None:
    """Fetch and store every window; fills counts (fetched, inserted, updated, unchanged)."""
    for key in ("fetched", "inserted", "updated", "unchanged"):
        counts.setdefault(key, 0)
    for window in windows:
        start = window.start
        done = window.resume_key and store.get_state(PROGRESS, window.resume_key)
        if done:
            start = max(start, date.fromisoformat(done) + timedelta(days=1))
            log(f"arXiv: resuming {', '.join(window.categories)} after {done}")
        for first, last in chunks(start, window.end):
            log(f"arXiv: {', '.join(window.categories)} submitted {first} .. {last}")
            left = None if max_results is None else max_results - counts["fetched"]
            before = counts["fetched"]
            papers = client.fetch_window(window.categories, first, last, left)
            result = store.upsert_papers(_counted(papers, counts), batch_size=500)
            counts["inserted"] += result.inserted
            counts["updated"] += result.updated
            counts["unchanged"] += result.unchanged
            if left is not None and counts["fetched"] - before >= left:
                return  # stopped by --max-results: this chunk is not complete
            _finished(store, window, last)
        if window.resume_key:
            store.delete_state(PROGRESS, window.resume_key)


def _finished(store: Store, window: Window, day: date) -> None:
    """Record that every submission up to `day` is stored (watermarks never move back)."""
    with store.transaction():
        if window.resume_key:
            store.set_state(PROGRESS, window.resume_key, day.isoformat())
        for cat in window.categories:
            mark = store.get_state(WATERMARK, cat)
            if mark is None or date.fromisoformat(mark) < day:
                store.set_state(WATERMARK, cat, day.isoformat())


def _counted(papers: Iterable[Paper], counts: dict[str, Any]) -> Iterator[Paper]:
    for paper in papers:
        counts["fetched"] += 1
        yield paper
