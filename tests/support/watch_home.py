"""Papers for the watchlist tests: real cs.CV/cs.CL papers of the daily-arXiv fixture, a first
batch (two days) and a later one (the next day), stored as ingest and enrich store them."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from core.records import Paper
from core.store import Store
from tests.support.records import daily_records, record_paper

FIRST = (date(2026, 3, 10), date(2026, 3, 11))  # stored and indexed first
LATER = date(2026, 3, 12)  # arrives afterwards


def papers(fixtures_dir: Path, first: date, last: date, n: int) -> list[Paper]:
    """`n` papers with v1 in [first, last], spread evenly over the days."""
    records = daily_records(fixtures_dir, {"cs.CV", "cs.CL"}, first, last)
    if len(records) > n:
        records = [records[i * (len(records) - 1) // (n - 1)] for i in range(n)]
    return [record_paper(r) for r in records]


def corpus(fixtures_dir: Path) -> tuple[list[Paper], list[Paper]]:
    """(~300 papers of FIRST, ~150 of LATER)."""
    return papers(fixtures_dir, *FIRST, 300), papers(fixtures_dir, LATER, LATER, 150)


def store_papers(home: Path, batch: list[Paper]) -> None:
    """Store a batch in the working database (a later transaction: later first_seen) and read
    its code links and venues from the text, as ingest and enrich do."""
    from ingest.enrichment import enrich_text

    time.sleep(0.01)  # first_seen has microseconds; keep batches apart whatever the clock does
    with Store.open(home / "work" / "papers.duckdb") as store:
        store.upsert_papers(batch)
        enrich_text(store)
        store.checkpoint()
