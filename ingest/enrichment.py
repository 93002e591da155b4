"""`paperradar enrich`: code links and venues for the papers in the store.

Three sources, each independent: the papers' own text (comment, abstract, journal-ref),
Papers with Code and Hugging Face Papers. Text is read again whenever a paper changes;
the APIs are asked about a paper when it is new to them and, while it has no code, again
SCHEDULE_DAYS after its v1 (code often appears weeks after the paper). Every answer lands
in `code_links`, `venue_mentions` and `enrichments`; `papers.has_code` and `papers.venue`
are derived from those tables, so each value can be explained by rows with a source and
the raw text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from core.records import CodeLink, Enrichment, VenueMention
from core.store import Store
from ingest.text_links import extract_code_links, normalize_code_url
from ingest.venues import best_venue, extract_venues, normalize_conference

SCHEDULE_DAYS = (1, 7, 30, 90)  # asked when new, then again at these ages while without code
BATCH = 5000

Log = Callable[[str], None]


def enrich_text(store: Store, log: Log = lambda line: None) -> dict[str, int]:
    """Code links and venues stated in each new or changed paper's comment, abstract and
    journal-ref; returns counts (papers, links_new, venues)."""
    counts = {"papers": 0, "links_new": 0, "venues": 0}
    rows = store.text_due()
    for batch in _chunks(rows, BATCH):
        ids = [r[0] for r in batch]
        links = [link for arxiv_id, comment, abstract, _, updated in batch
                 for link in _dated(extract_code_links(arxiv_id, comment, abstract), updated)]
        mentions = [m for arxiv_id, comment, _, journal_ref, updated in batch
                    for m in extract_venues(arxiv_id, comment, journal_ref, "text", as_of=updated)]
        counts["links_new"] += store.add_code_links(links)
        store.replace_venue_mentions("text", ids, mentions)
        store.record_checks("text", dict.fromkeys(ids, True))
        refresh_derived(store, ids)
        counts["papers"] += len(batch)
        counts["venues"] += len(mentions)
        log(f"text: {counts['papers']}/{len(rows)} papers read")
    return counts


def enrich_api(
    store: Store,
    source: str,
    fetch_window: Callable[[datetime, datetime], Iterable[Enrichment]] | None,
    fetch_papers: Callable[[Sequence[str]], Iterable[tuple[str, Enrichment | None]]],
    now: datetime,
    limit: int | None,
    lookup_limit: int,
    log: Log = lambda line: None,
) -> dict[str, int]:
    """Ask one API about the papers due for it (newest first, at most `limit`).

    With `fetch_window`, the published range of the due papers is listed in bulk first;
    up to `lookup_limit` due papers the listing did not cover are then looked up one by
    one (the API's dates can differ from arXiv's by a day). Every asked paper is recorded
    in enrich_checks, found or not, so the schedule moves on.
    """
    due = store.due_for_enrichment(source, now, SCHEDULE_DAYS, limit)
    counts = {"due": len(due), "found": 0, "links_new": 0, "looked_up": 0}
    if not due:
        return counts
    wanted = {arxiv_id for arxiv_id, _ in due}
    answered: dict[str, Enrichment] = {}
    if fetch_window is not None:
        first = min(published for _, published in due)
        last = max(published for _, published in due)
        log(f"{source}: listing papers published {first:%Y-%m-%d} .. {last:%Y-%m-%d}")
        for batch in _chunks(fetch_window(first, last), 500):
            mine = [e for e in batch if e.arxiv_id in wanted]
            answered.update((e.arxiv_id, e) for e in mine)
            counts["links_new"] += _store_answers(store, source, mine)
    missing = [arxiv_id for arxiv_id, _ in due if arxiv_id not in answered][:lookup_limit]
    if missing:
        log(f"{source}: looking up {len(missing)} papers one by one")
    for batch in _chunks(fetch_papers(missing), 100):
        found = [e for _, e in batch if e is not None]
        answered.update((e.arxiv_id, e) for e in found)
        counts["links_new"] += _store_answers(store, source, found)
        counts["looked_up"] += len(batch)
    asked = wanted if fetch_window is not None else set(missing)
    store.record_checks(source, {arxiv_id: arxiv_id in answered for arxiv_id in asked}, now)
    counts["found"] = len(answered)
    return counts


def import_dump(store: Store, links: Iterable[Enrichment], papers: Iterable[Enrichment],
                log: Log = lambda line: None) -> dict[str, int]:
    """Legacy Papers with Code dumps: code links (links dump) and venues, tasks and methods
    (papers-with-abstracts dump) of the papers in the store."""
    counts = {"links_new": 0, "papers": 0}
    for batch in _chunks(links, BATCH):
        counts["links_new"] += store.add_code_links(
            _normalized(link for e in batch for link in e.code_links))
        refresh_derived(store, [e.arxiv_id for e in batch])
        log(f"dump: {counts['links_new']} new code links")
    for batch in _chunks(papers, BATCH):
        counts["papers"] += store.add_enrichments(batch)
        _store_venues(store, "dump", batch)
    return counts


def refresh_derived(store: Store, arxiv_ids: Sequence[str]) -> None:
    """papers.venue (best of all mentions) and papers.has_code (a repository link)."""
    mentions = store.venue_mentions_of(arxiv_ids)
    store.set_derived({arxiv_id: best_venue(mentions.get(arxiv_id, [])) for arxiv_id in arxiv_ids})


def _store_answers(store: Store, source: str, answers: list[Enrichment]) -> int:
    if not answers:
        return 0
    before = store.count_code_links()
    answers = [replace(e, code_links=tuple(_normalized(e.code_links))) for e in answers]
    store.add_enrichments(answers)
    _store_venues(store, source, answers)
    return store.count_code_links() - before


def _store_venues(store: Store, source: str, answers: list[Enrichment]) -> None:
    mentions: list[VenueMention] = []
    for e in answers:
        venue = normalize_conference(e.conference)
        if venue is not None and e.conference:
            mentions.append(VenueMention(e.arxiv_id, venue.venue, venue.year, source,
                                         e.conference, venue.kind))
    ids = [e.arxiv_id for e in answers]
    store.replace_venue_mentions(source, ids, mentions)
    refresh_derived(store, ids)


def _normalized(links: Iterable[CodeLink]) -> Iterator[CodeLink]:
    """One spelling per repository whichever source names it (as text links have)."""
    for link in links:
        url = normalize_code_url(link.url) or link.url.strip()
        yield link if url == link.url else replace(link, url=url)


def _dated(links: Iterable[CodeLink], updated: datetime) -> Iterator[CodeLink]:
    """Text links were there at the latest when the version that states them appeared."""
    for link in links:
        yield replace(link, first_seen=updated)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def window_days(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """The whole days around two times (APIs list by date)."""
    return first - timedelta(days=1), last + timedelta(days=1)


def dump_paths(path: Path) -> tuple[list[Path], list[Path]]:
    """(links dumps, papers dumps) in a file or folder, told apart by their names."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    links = [p for p in files if "link" in p.name.lower()]
    papers = [p for p in files if "link" not in p.name.lower() and "paper" in p.name.lower()]
    return links, papers
