"""Expected answers read straight from the daily-arXiv fixture files (independent of the server)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any


def daily_records(
    fixtures: Path, categories: set[str], since: date, until: date
) -> list[dict[str, Any]]:
    """Records of any of `categories` whose v1 day is in [since, until], by v1 then id.

    Each record gets `_v1`, its v1 submission time as an aware UTC datetime.
    """
    lo = datetime.combine(since, time.min, UTC)
    hi = datetime.combine(until, time(23, 59), UTC)
    found = []
    for path in sorted((fixtures / "daily-arxiv").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                v1 = parsedate_to_datetime(rec["versions"][0]["created"])
                if lo <= v1 <= hi and categories & set(rec["categories"].split()):
                    rec["_v1"] = v1
                    found.append(rec)
    return sorted(found, key=lambda r: (r["_v1"], r["id"]))


def author_names(rec: dict[str, Any]) -> list[str]:
    """'First Last Suffix' for each parsed author, as arXiv's feed writes them."""
    return [" ".join(p for p in (a[1], a[0], a[2]) if p) for a in rec["authors_parsed"]]


def record_paper(rec: dict[str, Any]) -> Any:
    """The Paper (version 1) a daily-arXiv record stands for, text cleaned as ingestion does."""
    from core.records import Paper
    from ingest.arxiv_api import clean_text

    v1 = rec["_v1"].replace(tzinfo=None)
    return Paper(
        arxiv_id=rec["id"], version=1, title=clean_text(rec["title"]),
        abstract=clean_text(rec["abstract"]), authors=tuple(author_names(rec)),
        published=v1, updated=v1, primary_category=rec["categories"].split()[0],
        categories=tuple(rec["categories"].split()), comment=rec["comments"],
        journal_ref=rec["journal-ref"],
    )
