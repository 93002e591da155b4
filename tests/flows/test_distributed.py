"""Embedding on a Dask cluster (PAPERRADAR_TASK_RUNNER=dask): the Dask path equals the local path.

A real local cluster of two worker processes runs the shards through Prefect's
DaskTaskRunner under one session-scoped Prefect test API; the papers are real abstracts
from the daily-arXiv fixture and the model is the int8 ONNX build of the bundled weights.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from pydantic import ValidationError

from core.errors import ClusterError, ModelLoadError
from core.records import Paper
from core.settings import Settings
from core.store import Store
from flows.cli import main
from flows.distributed import DaskEncoder, make_encoder, shard_task
from index.build import update_index
from index.embed import Embedder, document_text
from index.faiss_index import load_index
from index.vectors import VectorStore
from tests.flows.test_cli import run_cli
from tests.support.records import author_names, daily_records

pytestmark = pytest.mark.slow  # local Dask clusters: tens of seconds (make test and CI run them)

MODEL = "all-MiniLM-L6-v2"


def _papers(fixtures_dir: Path, count: int) -> list[Paper]:
    from ingest.arxiv_api import clean_text

    if not (fixtures_dir / "daily-arxiv").is_dir():
        pytest.skip(f"daily-arXiv fixture not found under {fixtures_dir}")
    records = daily_records(fixtures_dir, {"cs.CL"}, date(2026, 6, 2), date(2026, 6, 4))[:count]
    return [
        Paper(
            arxiv_id=r["id"], version=1, title=clean_text(r["title"]),
            abstract=clean_text(r["abstract"]), authors=tuple(author_names(r)),
            published=r["_v1"].replace(tzinfo=None), updated=r["_v1"].replace(tzinfo=None),
            primary_category=r["categories"].split()[0], categories=tuple(r["categories"].split()),
        )
        for r in records
    ]


@pytest.fixture(scope="module")
def inputs(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str, str, str]]:
    """(key, hash, title, abstract) of 300 real cs.CL papers, as `paperradar index` reads them."""
    papers = _papers(fixtures_dir, 300)
    with Store.open(tmp_path_factory.mktemp("store") / "work.duckdb") as store:
        store.upsert_papers(papers)
        rows = store.embedding_inputs()
    assert len(rows) == 300
    return rows


@pytest.fixture(scope="module")
def int8(onnx_models: Path) -> Embedder:
    return Embedder(MODEL, "cpu", backend="auto", models_dir=onnx_models)


@pytest.fixture(scope="module")
def cluster_encoder(int8: Embedder, prefect_harness: None) -> Iterator[DaskEncoder]:
    """A local cluster of two worker processes, kept for the module; small shards, so 300
    papers are 5 shards over 2 calls (3 + 2 shards) and both workers share the work."""
    with DaskEncoder(int8, "", 2, threads=1, shard_size=64, shards_per_call=3) as encoder:
        yield encoder


@pytest.mark.slow
def test_dask_path_equals_local_path(tmp_path: Path, int8: Embedder, cluster_encoder: DaskEncoder,
                                     inputs: list[tuple[int, str, str, str]]) -> None:
    assert int8.backend == "onnx-int8" and cluster_encoder.config["backend"] == "onnx-int8"
    assert cluster_encoder.chunk_size == 192
    local = VectorStore(tmp_path / "local", int8.vector_set)
    dask = VectorStore(tmp_path / "dask", int8.vector_set)
    started = time.perf_counter()
    report = update_index(inputs, int8, local, tmp_path / "index-local")
    local_s = time.perf_counter() - started
    started = time.perf_counter()
    report_dask = update_index(inputs, int8, dask, tmp_path / "index-dask", encoder=cluster_encoder)
    dask_s = time.perf_counter() - started
    print(f"local {local_s:.1f}s, dask (2 workers, first run: cluster start and model loads) {dask_s:.1f}s")
    assert report.embedded == report_dask.embedded == 300

    local_keys, local_hashes, local_vecs = local.load()
    dask_keys, dask_hashes, dask_vecs = dask.load()
    assert len(dask.shards()) == 2  # one stored shard per call of chunk_size papers
    assert np.array_equal(local_keys, dask_keys) and np.array_equal(local_hashes, dask_hashes)
    assert local_vecs.dtype == dask_vecs.dtype == np.float16 and local_vecs.shape == (300, 384)
    assert np.array_equal(local_vecs, dask_vecs)

    # The two indexes hold the same vectors under the same ids: they answer alike.
    local_index, _ = load_index(tmp_path / "index-local", MODEL, int8.vector_set)
    dask_index, _ = load_index(tmp_path / "index-dask", MODEL, int8.vector_set)
    queries = np.stack([int8.encode_query(q) for q in (
        "speech recognition for low-resource languages", "factual consistency of summaries",
        "retrieval-augmented generation with long contexts")] + [local_vecs[i].astype(np.float32)
                                                                 for i in (0, 150, 299)])
    local_scores, local_ids = local_index.search(queries, 10)
    dask_scores, dask_ids = dask_index.search(queries, 10)
    assert np.array_equal(local_ids, dask_ids) and np.array_equal(local_scores, dask_scores)

    # Nothing new: the Dask path embeds nothing and leaves the index as it is.
    again = update_index(inputs, int8, dask, tmp_path / "index-dask", encoder=cluster_encoder)
    assert again.embedded == 0 and again.reused == 300 and not again.written


@pytest.mark.slow
def test_a_lost_workers_shard_is_run_again(int8: Embedder, cluster_encoder: DaskEncoder,
                                           inputs: list[tuple[int, str, str, str]]) -> None:
    """A worker process killed while it holds a shard: Dask runs the shard again elsewhere."""
    from distributed import Client

    texts = [document_text(t, a) for _, _, t, a in inputs[:192]]
    expected = int8.encode_documents(texts)
    killed: list[str] = []
    with Client(cluster_encoder.scheduler_address) as client:

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    os.kill(client.run(os.getpid, workers=[busy[0]])[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        vectors = cluster_encoder.encode_documents(texts)
        killer.join()
    assert killed, "no worker was seen busy"
    assert np.array_equal(vectors, expected)


def test_shard_retries_transient_errors_but_not_model_errors(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries are decided in the task: OSError (transient) is retried, ModelLoadError is not."""
    from prefect import flow

    import flows.distributed as module

    calls: list[str] = []

    class Flaky:
        def __init__(self, error: Exception | None) -> None:
            self.error = error

        def encode_documents(self, texts: list[str]) -> np.ndarray:
            calls.append(texts[0])
            if self.error is not None and len(calls) == 1:
                raise self.error
            return np.ones((len(texts), 4), np.float32)

    config = {"model": MODEL, "device": "cpu", "batch_size": 0, "backend": "onnx-int8",
              "models_dir": None, "threads": 1}

    @flow
    def one_shard() -> np.ndarray:
        return shard_task()(0, ["a text"], **config)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "shared_embedder", lambda *a: Flaky(OSError("connection reset")))
    assert one_shard().shape == (1, 4) and len(calls) == 2

    calls.clear()
    monkeypatch.setattr(module, "shared_embedder",
                        lambda *a: Flaky(ModelLoadError("cannot load model 'x'")))
    with pytest.raises(ModelLoadError, match="cannot load model"):
        one_shard()
    assert len(calls) == 1


def test_make_encoder_follows_the_settings(int8: Embedder) -> None:
    assert make_encoder(Settings(task_runner="local"), int8) is int8
    encoder = make_encoder(Settings(task_runner="dask", dask_workers=3, embed_threads=2), int8)
    assert isinstance(encoder, DaskEncoder)
    assert encoder.address == "" and encoder.workers == 3 and encoder.config["threads"] == 2
    assert encoder.chunk_size == 512 * 8 and encoder._cluster is None  # started on first use
    assert encoder.config["backend"] == "onnx-int8" and encoder.config["device"] == "cpu"
    assert Path(encoder.config["models_dir"]).is_absolute()
    for bad in ({"task_runner": "spark"}, {"dask_workers": 0}):
        with pytest.raises(ValidationError):
            Settings(**bad)  # type: ignore[arg-type]


def test_unreachable_or_bad_scheduler_address_is_one_line(home: Path, fixtures_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(home / "work" / "papers.duckdb") as store:
        store.upsert_papers(_papers(fixtures_dir, 5))
    monkeypatch.setenv("PAPERRADAR_TASK_RUNNER", "dask")
    monkeypatch.setenv("PAPERRADAR_DASK_ADDRESS", "tcp://127.0.0.1:1")
    result = run_cli("index")
    assert result.returncode == ClusterError.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == result.stderr.strip().splitlines()[-1], result.stderr
    assert errors[0].startswith("paperradar: error: cannot reach the Dask scheduler at "
                                "tcp://127.0.0.1:1")
    con = duckdb.connect(str(home / "work" / "papers.duckdb"), read_only=True)
    status, error = con.execute("SELECT status, error FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
    con.close()
    assert status == "failed" and "Dask scheduler" in error

    monkeypatch.setenv("PAPERRADAR_DASK_ADDRESS", "scheduler-without-port")
    result = run_cli("index")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "paperradar: error: bad PAPERRADAR_DASK_ADDRESS 'scheduler-without-port'"), result.stderr


@pytest.mark.slow
def test_index_command_on_a_local_cluster(home: Path, fixtures_dir: Path, onnx_models: Path,
                                          int8: Embedder, prefect_harness: None,
                                          monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """`paperradar index` with PAPERRADAR_TASK_RUNNER=dask (local cluster) stores the local vectors."""
    import shutil

    papers = _papers(fixtures_dir, 40)
    with Store.open(home / "work" / "papers.duckdb") as store:
        store.upsert_papers(papers)
        rows = store.embedding_inputs()
    shutil.copytree(onnx_models, home / "models")
    monkeypatch.setenv("PAPERRADAR_TASK_RUNNER", "dask")
    monkeypatch.setenv("PAPERRADAR_EMBED_THREADS", "1")
    assert main(["index"]) == 0
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("shards 1/1: 40 papers, ") for m in logged), logged  # the run logger
    keys, _, vectors = VectorStore(home / "vectors", int8.vector_set).load()
    order = {k: i for i, k in enumerate(keys.tolist())}
    expected = int8.encode_documents([document_text(t, a) for _, _, t, a in rows])
    assert np.array_equal(vectors[[order[r[0]] for r in rows]], expected.astype(np.float16))
