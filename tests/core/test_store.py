from __future__ import annotations

import contextvars
import dataclasses
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import IngestError, StoreError, StoreMissingError
from core.records import Paper, PaperBatch
from core.store import MIGRATIONS, PAPER_COLUMNS, Store, paper_key


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


def stored(store: Store) -> dict[str, dict[str, object]]:
    cols = [*PAPER_COLUMNS, "venue", "has_code", "first_seen", "last_changed"]
    return {r[1]: dict(zip(cols, r, strict=True)) for r in store.con.execute(
        f"SELECT {', '.join(cols)} FROM papers").fetchall()}


def varied_papers() -> list[Paper]:
    """Papers that exercise every column: Unicode, missing fields, withdrawals, old ids."""
    return [
        make_paper("2401.00001"),
        make_paper("2401.00002", 3, title="Über Graphen — ein Überblick", authors=("Zoë Ł.",),
                   journal_ref="J. Foo 1 (2024)", doi="10.1/x", categories=("math.CO",),
                   primary_category="math.CO"),
        make_paper("2401.00003", comment=None, abstract="This paper has been withdrawn."),
        make_paper("2401.00004", 2, comment="THIS ARTICLE HAS BEEN WITHDRAWN by arXiv"),
        make_paper("hep-th/9901001", 1, authors=(), source="snapshot"),
    ]


def test_batches_and_papers_store_the_same_rows(tmp_path: Path) -> None:
    papers = varied_papers()
    with Store.open(tmp_path / "a.duckdb") as a, Store.open(tmp_path / "b.duckdb") as b:
        assert a.upsert_papers(papers) == b.upsert_papers([PaperBatch.of(papers)])
        rows_a, rows_b = stored(a), stored(b)
    for row in [*rows_a.values(), *rows_b.values()]:
        del row["first_seen"], row["last_changed"]
    assert rows_a == rows_b
    for paper in papers:  # the derived columns are the record's own values
        row = rows_a[paper.arxiv_id]
        assert (row["paper_id"], row["content_hash"], row["withdrawn"]) == (
            paper_key(paper.arxiv_id), paper.content_hash, paper.withdrawn)
        assert (row["title"], row["authors"], row["categories"]) == (
            paper.title, list(paper.authors), list(paper.categories))
    assert [rows_a[p.arxiv_id]["withdrawn"] for p in papers] == [False, False, True, True, False]


@pytest.mark.parametrize("as_batch", [False, True])
def test_one_batch_of_new_newer_stale_same_and_duplicate_papers(store: Store, as_batch: bool) -> None:
    store.upsert_papers([make_paper("2401.00001", 1), make_paper("2401.00002", 2),
                         make_paper("2401.00003", 1)])
    before = stored(store)
    batch = [
        make_paper("2401.00001", 2, title="Newer"),        # updated
        make_paper("2401.00002", 1, title="Stale"),        # older than stored: unchanged
        make_paper("2401.00003", 1),                       # the same: unchanged
        make_paper("2401.00004", 1, title="v1"),           # new, three times: v2 wins
        make_paper("2401.00004", 2, title="v2"),
        make_paper("2401.00004", 2, title="v2 again", updated=datetime(2023, 1, 1)),
        make_paper("2401.00005", 1),                       # new
    ]
    result = store.upsert_papers([PaperBatch.of(batch)] if as_batch else batch)
    assert (result.inserted, result.updated, result.unchanged) == (2, 1, 4)
    after = stored(store)
    assert after["2401.00001"]["title"] == "Newer" and after["2401.00001"]["version"] == 2
    assert after["2401.00001"]["last_changed"] > before["2401.00001"]["last_changed"]
    assert after["2401.00001"]["first_seen"] == before["2401.00001"]["first_seen"]
    assert after["2401.00002"] == before["2401.00002"] and after["2401.00003"] == before["2401.00003"]
    assert (after["2401.00004"]["version"], after["2401.00004"]["title"]) == (2, "v2")
    assert set(after) == {f"2401.0000{i}" for i in range(1, 6)}


def test_same_version_with_other_authors_or_categories_is_an_update(store: Store) -> None:
    store.upsert_papers([make_paper("2401.00001"), make_paper("2401.00002")])
    before = stored(store)
    result = store.upsert_papers([
        make_paper("2401.00001", authors=("Ada Lovelace", "Alan Turing", "Grace Hopper")),
        make_paper("2401.00002", categories=("cs.CL",)),
    ])
    assert (result.inserted, result.updated, result.unchanged) == (0, 2, 0)
    after = stored(store)
    assert after["2401.00001"]["authors"] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert after["2401.00002"]["categories"] == ["cs.CL"]
    for key in ("2401.00001", "2401.00002"):
        assert after[key]["last_changed"] > before[key]["last_changed"]
    # A newer version with other lists replaces them too; an older one with other lists never.
    store.upsert_papers([make_paper("2401.00001", 2, authors=("Solo",), categories=("cs.AI",))])
    store.upsert_papers([make_paper("2401.00001", 1, authors=("Stale",), categories=("cs.IR",))])
    row = stored(store)["2401.00001"]
    assert (row["version"], row["authors"], row["categories"]) == (2, ["Solo"], ["cs.AI"])


def test_updates_keep_enrichment_columns(store: Store) -> None:
    store.upsert_papers([make_paper()])
    store.con.execute("UPDATE papers SET venue = 'ACL', has_code = true")
    before = stored(store)["2401.00001"]
    assert store.upsert_papers([make_paper(version=2, doi="10.1/y")]).updated == 1
    after = stored(store)["2401.00001"]
    assert (after["venue"], after["has_code"], after["first_seen"]) == ("ACL", True, before["first_seen"])
    assert (after["version"], after["doi"]) == (2, "10.1/y")


def test_a_failed_batch_is_rolled_back_and_raises_store_error(store: Store) -> None:
    settings = "SELECT current_setting('threads'), current_setting('checkpoint_threshold')"
    before = store.con.execute(settings).fetchone()
    broken = dataclasses.replace(make_paper("2401.00004"), title=None)  # type: ignore[arg-type]
    papers = [make_paper("2401.00001"), make_paper("2401.00002"),   # batch 1: stored
              make_paper("2401.00003"), broken]                     # batch 2: rolled back
    with pytest.raises(StoreError, match="could not store 2 papers: .*title"):
        store.upsert_papers(papers, batch_size=2)
    assert [r[0] for r in rows(store)] == ["2401.00001", "2401.00002"]
    assert store.con.execute(settings).fetchone() == before
    # The connection is usable and the failed papers can be stored once fixed.
    assert store.upsert_papers([make_paper("2401.00003")]).inserted == 1


SETTINGS = "SELECT current_setting('threads'), current_setting('checkpoint_threshold')"
SOURCE = contextvars.ContextVar("source", default="unset")


def read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "paperradar-read-ahead"]


def test_read_ahead_stores_the_same_and_sees_the_callers_context(tmp_path: Path) -> None:
    seen: list[str] = []

    def papers() -> Iterator[Paper]:
        for i in range(1, 8):
            seen.append(SOURCE.get())
            yield make_paper(f"2401.0000{i}", version=i % 3 + 1)

    SOURCE.set("caller")
    with Store.open(tmp_path / "a.duckdb") as a, Store.open(tmp_path / "b.duckdb") as b:
        before = a.con.execute(SETTINGS).fetchone()
        assert a.upsert_papers(papers(), batch_size=3, read_ahead=True) == b.upsert_papers(
            papers(), batch_size=3)
        assert rows(a) == rows(b) and len(rows(a)) == 7
        assert a.con.execute(SETTINGS).fetchone() == before
    assert seen == ["caller"] * 14 and not read_ahead_threads()


def test_read_ahead_raises_the_inputs_error_after_the_batches_before_it(store: Store) -> None:
    def papers() -> Iterator[Paper]:
        yield from (make_paper(f"2401.0000{i}") for i in range(1, 6))
        raise IngestError("snapshot.jsonl line 6: not valid JSON")

    before = store.con.execute(SETTINGS).fetchone()
    with pytest.raises(IngestError, match="line 6"):
        store.upsert_papers(papers(), batch_size=2, read_ahead=True)
    # Batches 1-2 and 3-4 were stored; 5 was in the batch the error cut short.
    assert [r[0] for r in rows(store)] == [f"2401.0000{i}" for i in range(1, 5)]
    assert store.con.execute(SETTINGS).fetchone() == before and not read_ahead_threads()


def test_read_ahead_stops_reading_when_a_batch_fails(store: Store) -> None:
    read: list[int] = []

    def papers() -> Iterator[Paper]:
        for i in range(1, 10_000):
            read.append(i)
            paper = make_paper(f"2401.{i:05d}")
            yield dataclasses.replace(paper, title=None) if i == 3 else paper  # type: ignore[arg-type]

    with pytest.raises(StoreError, match="could not store 2 papers"):
        store.upsert_papers(papers(), batch_size=2, read_ahead=True)
    assert store.count_papers() == 2 and not read_ahead_threads()
    assert len(read) < 20  # the reader was stopped, not left to read all 10,000
