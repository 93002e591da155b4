"""The README stays true: its example queries run and its configuration table matches Settings."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from core.records import Paper
from core.settings import settings_table
from core.store import Store
from ingest.enrichment import enrich_text

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_queries_run(tmp_path: Path) -> None:
    queries = re.findall(r"```sql\n(.*?)```", README.read_text(), re.S)
    assert len(queries) >= 5
    with Store.open(tmp_path / "db.duckdb") as store:
        store.upsert_papers([Paper(
            "2606.00001", 1, "A title", "An abstract.", ("Ada Lovelace",), datetime(2026, 6, 1),
            datetime(2026, 6, 1), "cs.CL", ("cs.CL", "cs.LG"),
            "Accepted at ICML 2026. Code: https://github.com/a/b")])
        store.finish_run(store.start_run("ingest-arxiv", {}), "ok", {"inserted": 1})
        enrich_text(store)
        for query in queries:
            names, rows = store.query(query)
            assert names and rows, query


def test_readme_configuration_table_matches_settings() -> None:
    text = README.read_text()
    for name, default, description in settings_table():
        assert f"| `{name}` | `{default}` | {description} |" in text
