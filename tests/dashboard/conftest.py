"""A small populated PAPERRADAR_HOME for the dashboard tests, built once per session.

Real cs.CL/cs.CV papers from the daily-arXiv fixture spread over 21 weeks (so there are
weekly trends, topics and emerging topics), their code links and venues read from their
own comments and abstracts, an ingest run recorded, embedded and indexed by
`paperradar index` (which fits the topics and publishes).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from core.records import Paper
from core.settings import Settings
from core.store import Store
from tests.support.records import daily_records, record_paper

SPAN = (date(2026, 1, 5), date(2026, 5, 31))  # Monday .. Sunday: 21 ISO weeks


@pytest.fixture(autouse=True, scope="session")
def _no_magic() -> None:
    """As `paperradar dashboard` runs Streamlit: without "magic" (see flows/cli.py)."""
    from streamlit import config

    config.set_option("runner.magicEnabled", False)
PAPERS = 700


def corpus(fixtures_dir: Path, n: int = PAPERS) -> list[Paper]:
    records = daily_records(fixtures_dir, {"cs.CV", "cs.CL"}, *SPAN)
    records = records[:: max(1, len(records) // n)][:n]  # spread evenly over the weeks
    return [record_paper(r) for r in records]


def build_home(home: Path, papers: list[Paper], models: Path) -> None:
    """Store `papers` with an ingest run, enrich them from their text, `paperradar index`."""
    from flows.cli import main
    from ingest.enrichment import enrich_text

    shutil.copytree(models, home / "models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERRADAR_HOME", str(home))
        mp.setenv("PAPERRADAR_DEVICE", "cpu")
        settings = Settings()
        with Store.open(settings.work_db) as store:
            run_id = store.start_run("ingest-arxiv", {"categories": ["cs.CL", "cs.CV"]},
                                     source="arxiv_api", window=SPAN)
            result = store.upsert_papers(papers)
            store.finish_run(run_id, "ok", {"inserted": result.inserted, "updated": 0,
                                            "unchanged": 0})
            enrich_text(store)
        assert main(["index"]) == 0


@pytest.fixture(scope="session")
def dashboard_home(fixtures_dir: Path, onnx_models: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated, published PAPERRADAR_HOME (read it, never write to it)."""
    home = tmp_path_factory.mktemp("dashboard") / "home"
    build_home(home, corpus(fixtures_dir), onnx_models)
    return home


@pytest.fixture(scope="session")
def empty_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PAPERRADAR_HOME with a published database that holds no paper."""
    from core.publish import publish

    home = tmp_path_factory.mktemp("dashboard-empty") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERRADAR_HOME", str(home))
        settings = Settings()
        with Store.open(settings.work_db) as store:
            store.checkpoint()
        publish(home, settings.work_db, None, {"run": "test"})
    return home
