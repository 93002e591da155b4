"""The README stays true: its example queries run and its configuration table matches Settings."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from core.records import Paper
from core.settings import settings_table
from core.store import Store
from core.views import VIEW_NAMES
from core.watch_store import Watchlist, WatchMatch, WatchStore
from ingest.enrichment import enrich_text
from tests.support import trend_data

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_queries_run(tmp_path: Path) -> None:
    queries = re.findall(r"```sql\n(.*?)```", README.read_text(), re.S)
    assert len(queries) >= 5
    assert sum("topic" in q or "venue_counts" in q or "code_availability" in q
               for q in queries) >= 5  # the questions the views answer
    with Store.open(tmp_path / "db.duckdb") as store:
        store.upsert_papers([Paper(
            "2606.00001", 1, "A title", "An abstract.", ("Ada Lovelace",), datetime(2026, 6, 1),
            datetime(2026, 6, 1), "cs.CL", ("cs.CL", "cs.LG"),
            "Accepted at ICML 2026. Code: https://github.com/a/b")])
        # 13 weeks of papers in two topics around it (tests/support/trend_data.py)
        trend_data.fill(store, date(2026, 3, 9), extra={"2606.00001": 1})
        store.finish_run(store.start_run("ingest-arxiv", {}), "ok", {"inserted": 1})
        enrich_text(store)
        # a watchlist and what a check of it recorded (core/watch_store.py, as a check stores it)
        watches = WatchStore(store)
        watches.add(Watchlist("rag", "retrieval-augmented generation"), datetime(2026, 6, 1))
        watches.record([("rag", [WatchMatch("2606.00001", 0.61, 0.52, 0.67)], datetime(2026, 6, 2))],
                       datetime(2026, 6, 2, 1, 30), "1")
        for query in queries:
            names, rows = store.query(query)
            assert names and rows, query


def test_readme_documents_every_view_and_its_columns(tmp_path: Path) -> None:
    """Under "### Views", each view has a paragraph whose head (up to the first colon) names
    it and whose text names each of its columns."""
    views = README.read_text().split("### Views", 1)[1].split("\n## ", 1)[0]
    paragraphs = [p for p in views.split("\n\n") if ":" in p]
    with Store.open(tmp_path / "db.duckdb") as store:
        for view in VIEW_NAMES:
            found = [p for p in paragraphs if f"`{view}`" in p.split(":", 1)[0]]
            assert found, f"README does not document view {view}"
            names, _ = store.query(f"SELECT * FROM {view} LIMIT 0")
            missing = [n for n in names if f"`{n}`" not in found[0]]
            assert not missing, f"README: columns of {view} not documented: {missing}"


def test_readme_configuration_table_matches_settings() -> None:
    text = README.read_text()
    for name, default, description in settings_table():
        assert f"| `{name}` | `{default}` | {description} |" in text
