from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import StoreMissingError
from core.records import Paper
from core.store import MIGRATIONS, Store, paper_key


def make_paper(arxiv_id: str = "2401.00001", version: int = 1, **changes: object) -> Paper:
    paper = Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=f"A study of {arxiv_id}",
        abstract="We study things.",
        authors=("Ada Lovelace", "Alan Turing"),
        published=datetime(2024, 1, 2, 3, 4, 5),
        updated=datetime(2024, 1, version + 1),
        primary_category="cs.CL",
        categories=("cs.CL", "cs.LG"),
        comment="10 pages",
    )
    return dataclasses.replace(paper, **changes)  # type: ignore[arg-type]


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "work" / "papers.duckdb")
    yield s
    s.close()


def rows(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT arxiv_id, version, title, comment, journal_ref, withdrawn FROM papers ORDER BY 1"
    ).fetchall()


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    with Store.open(path) as s:
        recorded = s.con.execute("SELECT version, name FROM schema_migrations").fetchall()
        assert [v for v, _ in recorded] == [v for v, _, _ in MIGRATIONS]
        assert s.schema_version() == MIGRATIONS[-1][0]
    with Store.open(path) as s:
        assert s.migrate() == []
    tables = duckdb.connect(str(path), read_only=True).execute(
        "SELECT table_name FROM information_schema.tables ORDER BY 1"
    ).fetchall()
    assert {t for (t,) in tables} >= {"papers", "code_links", "venue_mentions", "runs",
                                      "ingest_state", "schema_migrations"}


def test_papers_table_has_the_design_columns(store: Store) -> None:
    cols = {c for (c,) in store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'papers'"
    ).fetchall()}
    assert cols >= {"arxiv_id", "title", "abstract", "authors", "published", "updated", "version",
                    "primary_category", "categories", "comment", "journal_ref", "doi", "venue",
                    "has_code", "withdrawn", "paper_id"}


def test_upsert_is_idempotent(store: Store) -> None:
    papers = [make_paper(f"2401.0000{i}") for i in range(5)]
    first = store.upsert_papers(papers)
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    before = store.con.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall()
    again = store.upsert_papers(papers)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert store.con.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall() == before


def test_newer_version_replaces_and_older_never_does(store: Store) -> None:
    store.upsert_papers([make_paper(version=1)])
    result = store.upsert_papers([make_paper(version=2, title="Better title")])
    assert result.updated == 1
    assert rows(store) == [("2401.00001", 2, "Better title", "10 pages", None, False)]
    stale = store.upsert_papers([make_paper(version=1)])
    assert stale.unchanged == 1
    assert rows(store)[0][:3] == ("2401.00001", 2, "Better title")


def test_duplicates_within_a_batch_keep_the_newest(store: Store) -> None:
    result = store.upsert_papers([make_paper(version=1), make_paper(version=3, title="v3"),
                                  make_paper(version=2)])
    assert result.inserted == 1
    assert rows(store)[0][:3] == ("2401.00001", 3, "v3")


def test_metadata_added_without_new_version_is_kept(store: Store) -> None:
    store.upsert_papers([make_paper()])
    result = store.upsert_papers([make_paper(journal_ref="Phys. Rev. D 1 (2024)")])
    assert result.updated == 1
    assert rows(store)[0][4] == "Phys. Rev. D 1 (2024)"


def test_withdrawn_papers_are_marked_not_deleted(store: Store) -> None:
    store.upsert_papers([make_paper()])
    store.upsert_papers([make_paper(version=2, comment="This paper has been withdrawn by the author")])
    assert rows(store)[0][5] is True
    assert store.count_papers() == 1
    assert store.embedding_inputs() == []


def test_paper_key_is_deterministic_and_positive() -> None:
    assert paper_key("2401.00001") == paper_key("2401.00001")
    assert paper_key("2401.00001") != paper_key("2401.00002")
    assert 0 < paper_key("hep-th/9901001") < 2**63


def test_read_only_open_of_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreMissingError, match="paperradar ingest arxiv"):
        Store.open_read_only(tmp_path / "nope.duckdb")


def test_runs_and_state(store: Store) -> None:
    run = store.start_run("ingest-arxiv", {"since": "2026-06-01"})
    store.finish_run(run, "ok", {"fetched": 3})
    assert store.con.execute("SELECT kind, status, counts->>'fetched' FROM runs").fetchall() == [
        ("ingest-arxiv", "ok", "3")
    ]
    assert store.get_state("arxiv_api", "cs.CL") is None
    store.set_state("arxiv_api", "cs.CL", "2026-06-07")
    store.set_state("arxiv_api", "cs.CL", "2026-06-08")
    assert store.get_state("arxiv_api", "cs.CL") == "2026-06-08"


def test_run_record_columns(store: Store) -> None:
    with store.run("ingest-arxiv", {}, source="arxiv_api",
                   window=(date(2026, 6, 1), date(2026, 6, 7))) as counts:
        counts.update(inserted=5, updated=1, unchanged=2, requests=4, retries=3)
    row = store.con.execute(
        "SELECT source, window_start, window_end, papers_new, papers_updated, papers_unchanged,"
        " requests, retries, status FROM runs"
    ).fetchone()
    assert row == ("arxiv_api", date(2026, 6, 1), date(2026, 6, 7), 5, 1, 2, 4, 3, "ok")


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(tmp_path: Path) -> None:
    with Store.open(tmp_path / "w.duckdb") as store:
        store.start_run("ingest-arxiv", {})  # never finished: the process "dies" here
    with Store.open(tmp_path / "w.duckdb") as store:
        assert store.con.execute("SELECT status, error FROM runs").fetchone() == (
            "interrupted", "the process ended before the run finished")


def test_a_store_killed_before_any_checkpoint_opens_again(tmp_path: Path) -> None:
    # A new store's migrations must not be left in the write-ahead log: DuckDB 1.5.5 fails to
    # replay an ALTER TABLE on `runs` (nextval default), and the file would never open again.
    import subprocess
    import sys

    db = tmp_path / "w.duckdb"
    code = ("import os, sys; from core.store import Store; s = Store.open(__import__('pathlib')"
            ".Path(sys.argv[1])); s.start_run('ingest-arxiv', {}); os.kill(os.getpid(), 9)")
    child = subprocess.run([sys.executable, "-c", code, str(db)], cwd=Path(__file__).parents[2],
                           capture_output=True, timeout=120)
    assert child.returncode == -9
    with Store.open(db) as store:
        assert store.con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
