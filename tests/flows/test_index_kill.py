"""Killing `paperradar index` mid-run: the published index stays whole, the next run finishes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest

from core.publish import current_snapshot
from core.records import Paper
from core.settings import Settings
from core.store import Store, paper_key
from flows.health import collect_status
from index.faiss_index import index_ids, load_ids, load_index
from tests.flows.test_cli import paperradar
from tests.support.records import author_names, daily_records

MODEL = "all-MiniLM-L6-v2"


def real_papers(fixtures_dir: Path) -> list[Paper]:
    """About 180 real cs.CL papers from two days of the daily-arXiv fixture."""
    from ingest.arxiv_api import clean_text

    records = daily_records(fixtures_dir, {"cs.CL"}, date(2026, 6, 3), date(2026, 6, 4))[:180]
    return [
        Paper(
            arxiv_id=r["id"], version=1, title=clean_text(r["title"]),
            abstract=clean_text(r["abstract"]), authors=tuple(author_names(r)),
            published=r["_v1"].replace(tzinfo=None), updated=r["_v1"].replace(tzinfo=None),
            primary_category=r["categories"].split()[0], categories=tuple(r["categories"].split()),
        )
        for r in records
    ]


def published_index_is_whole(home: Path) -> set[int]:
    """The published snapshot's index loads, and its ids are exactly its database's papers."""
    snapshot = current_snapshot(home)
    index, manifest = load_index(snapshot.index_dir, MODEL)
    ids = index_ids(index)
    assert len(ids) == len(set(ids.tolist())) == manifest["count"]
    assert set(load_ids(snapshot.index_dir, manifest)[0].tolist()) == set(ids.tolist())
    with Store.open_read_only(snapshot.db_path) as db:
        _, rows = db.query("SELECT paper_id FROM papers WHERE NOT withdrawn")
    assert {int(r[0]) for r in rows} == set(ids.tolist())
    return set(ids.tolist())


@pytest.mark.slow
def test_killed_index_leaves_the_published_index_and_the_next_run_completes_it(
    home: Path, fixtures_dir: Path, onnx_models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    papers = real_papers(fixtures_dir)
    assert len(papers) >= 150
    shutil.copytree(onnx_models, home / "models")
    monkeypatch.setenv("PAPERRADAR_INDEX_SHARD_SIZE", "8")
    monkeypatch.setenv("PAPERRADAR_EMBED_THREADS", "1")  # slow enough to kill mid-embedding
    settings = Settings()
    settings.work_db.parent.mkdir(parents=True)
    with Store.open(settings.work_db) as store:
        store.upsert_papers(papers[:60])
    first = subprocess.run([*paperradar(), "index"], capture_output=True, text=True, timeout=600,
                           env=os.environ.copy())
    assert first.returncode == 0, first.stderr
    assert published_index_is_whole(home) == {paper_key(p.arxiv_id) for p in papers[:60]}

    with Store.open(settings.work_db) as store:
        store.upsert_papers(papers[60:])
    vectors = next((home / "vectors").iterdir())
    shards_before = len(list(vectors.glob("*.npz")))
    child = subprocess.Popen([*paperradar(), "index"], env=os.environ.copy(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(vectors.glob("*.npz"))) < shards_before + 3:  # mid-embedding
        assert child.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_before_kill = 8 * (len(list(vectors.glob("*.npz"))) - shards_before)

    # Readers still get the previous snapshot, whole; status says so.
    assert published_index_is_whole(home) == {paper_key(p.arxiv_id) for p in papers[:60]}
    report = collect_status(Settings())
    assert report["index"]["consistent"] and report["index"]["count"] == 60

    # The next run embeds only what the killed one had not stored, and completes the index.
    again = subprocess.run([*paperradar(), "index"], capture_output=True, text=True,
                           timeout=600, env=os.environ.copy())
    assert again.returncode == 0, again.stderr
    remaining = len(papers) - 60 - done_before_kill
    assert f"embedded {remaining} papers, reused {60 + done_before_kill}" in again.stderr
    assert published_index_is_whole(home) == {paper_key(p.arxiv_id) for p in papers}
    report = collect_status(Settings())
    assert report["index"]["state"] == "consistent"
    assert report["index"]["papers"] == report["index"]["count"] == report["index"]["vectors"]
