"""The onnx-int8 backend: built from the bundled weights, verified, cached, and as good as fp32."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexMismatchError, UserInputError
from core.publish import publish
from core.records import Paper
from core.store import Store
from index import onnx_backend
from index.build import update_index
from index.embed import Embedder, document_text, model_source
from index.faiss_index import load_index
from index.search import Searcher
from index.vectors import VectorStore
from tests.support.records import author_names, daily_records

pytestmark = pytest.mark.slow  # int8 model builds: tens of seconds (make test and CI run them)

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models cache with one int8 build of the bundled model, made once for the module."""
    root = tmp_path_factory.mktemp("models")
    onnx_backend.load_or_build(MODEL, model_source(MODEL), root)
    return root


@pytest.fixture(scope="module")
def int8(models_dir: Path) -> Embedder:
    embedder = Embedder(MODEL, "cpu", backend="onnx-int8", models_dir=models_dir)
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def papers(fixtures_dir: Path) -> list[Paper]:
    """About 300 real cs.CL papers from three days of the daily-arXiv fixture."""
    from ingest.arxiv_api import clean_text

    records = daily_records(fixtures_dir, {"cs.CL"}, date(2026, 6, 2), date(2026, 6, 4))[:300]
    return [
        Paper(
            arxiv_id=r["id"], version=1, title=clean_text(r["title"]),
            abstract=clean_text(r["abstract"]), authors=tuple(author_names(r)),
            published=r["_v1"].replace(tzinfo=None), updated=r["_v1"].replace(tzinfo=None),
            primary_category=r["categories"].split()[0], categories=tuple(r["categories"].split()),
        )
        for r in records
    ]


def test_build_is_verified_and_described(models_dir: Path) -> None:
    directory = onnx_backend.cache_dir(models_dir, MODEL)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["variant"] == "onnx-int8" and manifest["model"] == MODEL
    assert manifest["source_sha256"] == onnx_backend.source_digest(model_source(MODEL))
    assert manifest["verification"]["cosine_min"] >= onnx_backend.MIN_COSINE
    assert manifest["dimension"] == 384 and manifest["max_length"] == 256
    assert manifest["verification"]["query_cosine_min"] >= 0.9999  # the fp32 query graph
    assert sorted(p.name for p in directory.iterdir()) == [
        "manifest.json", "model.onnx", "query.onnx", "tokenizer.json"]
    assert [p.name for p in models_dir.iterdir()] == [directory.name]  # no temporary left


def test_vectors_match_fp32_on_real_abstracts(int8: Embedder, embedder, papers: list[Paper]) -> None:  # type: ignore[no-untyped-def]
    texts = [document_text(p.title, p.abstract) for p in papers[:64]]
    vectors = int8.encode_documents(texts)
    assert vectors.shape == (64, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(vectors * embedder.encode_documents(texts), axis=1)
    assert cosine.min() >= 0.99
    query = int8.encode_query("  multilingual   speech recognition ")
    assert query.shape == (384,) and abs(float(np.linalg.norm(query)) - 1) < 1e-4
    assert float(query @ embedder.encode_query("multilingual speech recognition")) >= 0.99
    assert int8.encode_documents([]).shape == (0, 384)
    assert int8.dimension == 384 and int8.vector_set == f"{MODEL}+onnx-int8"


@pytest.mark.slow
def test_cache_is_reused_and_a_mismatch_rebuilds(tmp_path: Path, models_dir: Path) -> None:
    import shutil

    directory = onnx_backend.cache_dir(tmp_path, MODEL)
    shutil.copytree(onnx_backend.cache_dir(models_dir, MODEL), directory)
    manifest_path = directory / "manifest.json"
    stamp = (directory / "model.onnx").stat().st_mtime_ns

    assert onnx_backend.load_or_build(MODEL, model_source(MODEL), tmp_path) == directory
    assert (directory / "model.onnx").stat().st_mtime_ns == stamp  # reused, not rebuilt

    manifest = json.loads(manifest_path.read_text())
    manifest["source_sha256"], manifest["source_stat"] = "0" * 64, []
    manifest_path.write_text(json.dumps(manifest))
    onnx_backend.load_or_build(MODEL, model_source(MODEL), tmp_path)
    rebuilt = json.loads(manifest_path.read_text())
    assert rebuilt["source_sha256"] == onnx_backend.source_digest(model_source(MODEL))
    assert (directory / "model.onnx").stat().st_mtime_ns != stamp

    manifest_path.write_text("{not json")
    stamp = (directory / "model.onnx").stat().st_mtime_ns
    onnx_backend.load_or_build(MODEL, model_source(MODEL), tmp_path)
    assert json.loads(manifest_path.read_text())["verification"]["cosine_min"] >= 0.99
    assert (directory / "model.onnx").stat().st_mtime_ns != stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [directory.name]


def test_stat_change_alone_does_not_rebuild(tmp_path: Path, models_dir: Path) -> None:
    """Same weights with other file times (a reinstall): the hash decides, no rebuild."""
    import shutil

    directory = onnx_backend.cache_dir(tmp_path, MODEL)
    shutil.copytree(onnx_backend.cache_dir(models_dir, MODEL), directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["source_stat"] = []
    (directory / "manifest.json").write_text(json.dumps(manifest))
    stamp = (directory / "model.onnx").stat().st_mtime_ns
    onnx_backend.load_or_build(MODEL, model_source(MODEL), tmp_path)
    assert (directory / "model.onnx").stat().st_mtime_ns == stamp


def test_a_failed_verification_caches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import ModelLoadError

    monkeypatch.setattr(onnx_backend, "MIN_COSINE", 1.01)
    with pytest.raises(ModelLoadError, match="PAPERRADAR_EMBED_BACKEND=torch"):
        onnx_backend.build(MODEL, model_source(MODEL), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_backend_choice(tmp_path: Path) -> None:
    assert Embedder(MODEL, "cpu").backend == "torch"  # the plain default is unchanged
    auto = Embedder(MODEL, "cpu", backend="auto", models_dir=tmp_path)
    assert auto.backend == "onnx-int8" and auto.vector_set == f"{MODEL}+onnx-int8"
    assert Embedder(MODEL, "cpu", backend="torch").vector_set == MODEL
    with pytest.raises(UserInputError, match="auto, torch, onnx-int8"):
        Embedder(MODEL, "cpu", backend="int4")
    with pytest.raises(UserInputError, match="runs on the CPU"):
        _ = Embedder(MODEL, "cuda", backend="onnx-int8").device


@pytest.mark.slow
def test_search_top10_overlaps_fp32(tmp_path: Path, int8: Embedder, embedder, papers: list[Paper],  # type: ignore[no-untyped-def]
                                    fixtures_dir: Path) -> None:
    """Top-10 of real queries over 300 real papers, through Searcher: int8 agrees with fp32.

    On average 9 or more of 10 ids agree; a single query can lose two to near-ties at rank
    10 (scores of neighbouring papers 0.001-0.005 apart, int8 moves scores by about that).
    """
    queries = ["speech recognition for low-resource languages",
               "evaluating factual consistency of summaries",
               "retrieval-augmented generation with long contexts"]
    queries += [r["title"] for r in daily_records(fixtures_dir, {"cs.CL"}, date(2026, 6, 5),
                                                  date(2026, 6, 5))[:27]]
    with Store.open(tmp_path / "work.duckdb") as store:
        store.upsert_papers(papers)
        inputs = store.embedding_inputs()
        store.checkpoint()
    results = {}
    for name, emb in (("fp32", embedder), ("int8", int8)):
        update_index(inputs, emb, VectorStore(tmp_path / "vectors", emb.vector_set),
                     tmp_path / name)
        snapshot = publish(tmp_path / f"home-{name}", tmp_path / "work.duckdb", tmp_path / name, {})
        searcher = Searcher(snapshot, emb)
        try:
            results[name] = [[r["arxiv_id"] for r in searcher.search(q, k=10)] for q in queries]
        finally:
            searcher.close()
    overlaps = [len(set(a) & set(b)) for a, b in zip(results["fp32"], results["int8"], strict=True)]
    assert np.mean(overlaps) >= 9 and min(overlaps) >= 7, overlaps
    assert sorted(p.name for p in (tmp_path / "vectors").iterdir()) == sorted(
        VectorStore(tmp_path / "vectors", n).path.name for n in (MODEL, f"{MODEL}+onnx-int8"))

    # An index of int8 vectors refuses to answer fp32 queries, and the reverse.
    with pytest.raises(IndexMismatchError, match="PAPERRADAR_EMBED_BACKEND"):
        load_index(tmp_path / "int8", MODEL, MODEL)
    with pytest.raises(IndexMismatchError, match="onnx-int8"):
        Searcher(publish(tmp_path / "mixed", tmp_path / "work.duckdb", tmp_path / "fp32", {}), int8)
    assert load_index(tmp_path / "int8", MODEL)[1]["vector_set"] == f"{MODEL}+onnx-int8"


def test_vectors_depend_on_the_text_alone(models_dir: Path, int8: Embedder, papers: list[Paper]) -> None:
    """One text per run: thread count and neighbours in the list change no vector."""
    texts = [document_text(p.title, p.abstract) for p in papers[:24]]
    one = Embedder(MODEL, "cpu", 64, backend="onnx-int8", models_dir=models_dir, threads=1)
    assert int8.onnx.workers == onnx_backend.physical_cores() and one.onnx.workers == 1
    assert np.array_equal(int8.encode_documents(texts), one.encode_documents(texts))
    assert np.array_equal(int8.encode_documents(texts[::-1])[::-1], one.encode_documents(texts))
    assert np.array_equal(int8.encode_documents(texts[5:6])[0], int8.encode_documents(texts)[5])
