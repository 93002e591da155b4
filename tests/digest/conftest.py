"""A small published PAPERRADAR_HOME for the digest tests, built once per session.

The hand-made trend data (tests/support/trend_data.py: topics A and B over 13 weeks from
Monday 2026-02-09) with real papers of the daily-arXiv fixture submitted in its last week,
2026-W19 (4-10 May 2026: a quarter of those listing cs.CL, a twelfth of those listing
cs.CV), and a few of the Monday after, so that W19 is complete. The real papers join topic
A (primary cs.CL) or B (the others); their code links and venues are read from their own
text (enrich_text). Three watchlists with matches recorded in W18, W19 and W20.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from core.publish import publish
from core.records import Paper
from core.store import Store
from core.watch_store import Watchlist, WatchMatch, WatchStore
from digest.weeks import Week
from ingest.enrichment import enrich_text
from tests.support import trend_data
from tests.support.records import author_names, daily_records

START = date(2026, 2, 9)  # trend_data's week 0; its week 12 is W19
W19 = Week(date(2026, 5, 4))
CATEGORIES = ("cs.CL", "cs.CV", "cs.LG")

def real_papers(fixtures_dir: Path) -> list[Paper]:
    from ingest.arxiv_api import clean_text

    records = daily_records(fixtures_dir, {"cs.CL"}, W19.start, W19.end)[::4]
    records += daily_records(fixtures_dir, {"cs.CV"}, W19.start, W19.end)[::12]
    records += daily_records(fixtures_dir, {"cs.CL", "cs.CV"}, date(2026, 5, 11),
                             date(2026, 5, 11))[::40]
    records = list({r["id"]: r for r in records}.values())
    return [Paper(arxiv_id=r["id"], version=1, title=clean_text(r["title"]),
                  abstract=clean_text(r["abstract"]), authors=tuple(author_names(r)),
                  published=r["_v1"].replace(tzinfo=None), updated=r["_v1"].replace(tzinfo=None),
                  primary_category=r["categories"].split()[0],
                  categories=tuple(r["categories"].split()), comment=r["comments"],
                  journal_ref=r["journal-ref"])
            for r in records]


def add_watchlists(store: Store) -> None:
    """Through the watchlist store (core/watch_store.py, migration 7): 'agents' with 12
    matches in W19 (10 shown), one in W18 and one at W20's first second, and a W19 match
    reported again in W20 (the first report stays); 'older' with two in W20, one of them
    also matched by 'agents'; 'quiet' with none."""
    watches = WatchStore(store)
    for name, query in (("agents", "LLM agents"), ("older", "vision transformers"),
                        ("quiet", "quantum gravity")):
        watches.add(Watchlist(name, query), datetime(2026, 4, 1))
    ids = [r[0] for r in store.con.execute(
        "SELECT arxiv_id FROM papers WHERE published >= ? AND NOT withdrawn ORDER BY arxiv_id "
        "LIMIT 16", [W19.start]).fetchall()]
    found = [("agents", a, 0.9 - 0.05 * (i // 2), datetime(2026, 5, 6, 9, i))  # ties by pairs
             for i, a in enumerate(ids[:12])]
    found += [("agents", ids[12], 0.7, datetime(2026, 4, 28, 8)),
              ("agents", ids[13], 0.6, datetime(2026, 5, 11, 0, 0)),
              ("agents", ids[0], 0.99, datetime(2026, 5, 12)),  # again: not stored twice
              ("older", ids[13], 0.55, datetime(2026, 5, 12)),
              ("older", ids[14], 0.5, datetime(2026, 5, 17, 23, 59))]
    for name, arxiv_id, score, when in found:
        watches.record([(name, [WatchMatch(arxiv_id, score, None, None)], None)], when, "test")


def build(home: Path, fixtures_dir: Path) -> None:
    work = home / "work" / "papers.duckdb"
    with Store.open(work) as store:
        papers = real_papers(fixtures_dir)
        store.upsert_papers(papers)
        trend_data.fill(store, START, extra={
            p.arxiv_id: 1 if p.primary_category == "cs.CL" else 2 for p in papers})
        enrich_text(store)
        add_watchlists(store)
        store.checkpoint()
    publish(home, work, None, {"run": "test"})


@pytest.fixture(scope="session")
def digest_home(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published home (read it, never write to it: copy it first)."""
    home = tmp_path_factory.mktemp("digest") / "home"
    build(home, fixtures_dir)
    return home


@pytest.fixture()
def db(digest_home: Path) -> Iterator[Store]:
    """The published database, read-only."""
    from core.publish import current_snapshot

    with Store.open_read_only(current_snapshot(digest_home).db_path) as store:
        yield store
