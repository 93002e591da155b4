"""Embeddings, the vector store and the FAISS index, with the real bundled model."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexMismatchError, IndexMissingError, UserInputError
from core.publish import publish
from core.records import Paper
from core.store import Store
from index.build import update_index
from index.embed import document_text
from index.faiss_index import build_index, load_index
from index.search import Searcher, clean_query
from index.vectors import VectorStore
from tests.support.records import author_names, daily_records

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def corpus(fixtures_dir: Path) -> list[Paper]:
    """About 60 real cs.CL papers from one day of the daily-arXiv fixture."""
    from ingest.arxiv_api import clean_text

    records = daily_records(fixtures_dir, {"cs.CL"}, date(2026, 6, 4), date(2026, 6, 4))[:60]
    return [
        Paper(
            arxiv_id=r["id"], version=1, title=clean_text(r["title"]),
            abstract=clean_text(r["abstract"]), authors=tuple(author_names(r)),
            published=r["_v1"].replace(tzinfo=None), updated=r["_v1"].replace(tzinfo=None),
            primary_category=r["categories"].split()[0], categories=tuple(r["categories"].split()),
            comment=r["comments"],
        )
        for r in records
    ]


def build(tmp_path: Path, papers: list[Paper], embedder):  # type: ignore[no-untyped-def]
    with Store.open(tmp_path / "work.duckdb") as store:
        store.upsert_papers(papers)
        inputs = store.embedding_inputs()
    vectors = VectorStore(tmp_path / "vectors", MODEL)
    return update_index(inputs, embedder, vectors, tmp_path / "index"), vectors


def test_vector_store_newest_shard_wins(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, MODEL)
    store.append(np.array([1, 2]), ["a" * 16, "b" * 16], np.ones((2, 4)))
    store.append(np.array([2, 3]), ["c" * 16, "d" * 16], np.full((2, 4), 2.0))
    keys, hashes, vecs = store.load()
    assert keys.tolist() == [1, 2, 3]
    assert hashes.tolist() == [b"a" * 16, b"c" * 16, b"d" * 16]
    assert vecs[:, 0].tolist() == [1.0, 2.0, 2.0]
    with pytest.raises(IndexMismatchError):
        store.append(np.array([4]), ["e" * 16], np.ones((1, 8)))


def test_incremental_embedding(tmp_path: Path, corpus: list[Paper], embedder) -> None:  # type: ignore[no-untyped-def]
    first, vectors = build(tmp_path, corpus, embedder)
    assert (first.embedded, first.indexed, first.rebuilt) == (len(corpus), len(corpus), True)
    second, _ = build(tmp_path, corpus, embedder)
    assert (second.embedded, second.reused, second.rebuilt) == (0, len(corpus), False)

    changed = corpus[:]
    changed[0] = dataclasses.replace(corpus[0], version=2, abstract=corpus[0].abstract + " Revised.")
    changed[1] = dataclasses.replace(corpus[1], version=2,
                                     comment="This paper has been withdrawn by the authors.")
    third, _ = build(tmp_path, changed, embedder)
    assert (third.embedded, third.indexed, third.rebuilt) == (1, len(corpus) - 1, False)
    assert (third.added, third.removed, third.written) == (1, 2, True)  # updated in place
    assert len(vectors.shards()) == 2

    # The index holds exactly the non-withdrawn papers, each with its stored vector, so a
    # rebuild from the vector store equals the incremental result.
    import faiss

    from core.store import paper_key

    index, _ = load_index(tmp_path / "index", MODEL)
    ids = set(faiss.vector_to_array(index.id_map).tolist())
    assert ids == {paper_key(p.arxiv_id) for p in changed if not p.withdrawn}
    assert len(ids) == index.ntotal
    keys, _, vecs = vectors.load()
    stored = dict(zip(keys.tolist(), vecs.astype(np.float32), strict=True))
    for key in ids:
        assert np.array_equal(index.reconstruct(key), stored[key])

    # A rebuild from the stored vectors embeds nothing and answers exactly as the update.
    queries = vecs[:10].astype(np.float32)
    updated_scores, updated_ids = index.search(queries, 10)
    with Store.open(tmp_path / "work.duckdb") as store:
        rebuilt = update_index(store.embedding_inputs(), embedder, vectors, tmp_path / "rebuilt",
                               rebuild=True)
    assert (rebuilt.embedded, rebuilt.rebuilt) == (0, True)
    fresh, _ = load_index(tmp_path / "rebuilt", MODEL)
    fresh_scores, fresh_ids = fresh.search(queries, 10)
    assert np.array_equal(updated_ids, fresh_ids)
    assert np.array_equal(updated_scores, fresh_scores)


def test_stored_vectors_match_a_fresh_embedding(tmp_path: Path, corpus: list[Paper], embedder) -> None:  # type: ignore[no-untyped-def]
    _, vectors = build(tmp_path, corpus[:8], embedder)
    keys, _, vecs = vectors.load()
    by_key = dict(zip(keys.tolist(), vecs.astype(np.float32), strict=True))
    from core.store import paper_key

    fresh = embedder.encode_documents([document_text(p.title, p.abstract) for p in corpus[:8]])
    for paper, vec in zip(corpus[:8], fresh, strict=True):
        assert float(np.dot(by_key[paper_key(paper.arxiv_id)], vec)) > 0.999


def test_faiss_equals_brute_force() -> None:
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    keys = rng.choice(2**62, size=500, replace=False).astype(np.int64)
    index = build_index(keys, vecs).index
    queries = vecs[:20] + 0.1 * rng.normal(size=(20, 32)).astype(np.float32)
    scores, ids = index.search(queries, 10)
    brute = queries @ vecs.T
    for q in range(20):
        top = np.argsort(-brute[q])[:10]
        assert ids[q].tolist() == keys[top].tolist()
        assert np.allclose(scores[q], brute[q][top], atol=1e-5)


def test_manifest_is_checked(tmp_path: Path, corpus: list[Paper], embedder) -> None:  # type: ignore[no-untyped-def]
    build(tmp_path, corpus[:5], embedder)
    with pytest.raises(IndexMismatchError, match="built with model"):
        load_index(tmp_path / "index", "some-other-model")
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    with pytest.raises(IndexMismatchError, match="holds"):
        load_index(tmp_path / "index", MODEL, f"{MODEL}+onnx-int8")
    with open(tmp_path / "index" / manifest["files"]["index"], "ab") as fh:
        fh.write(b"garbage")
    with pytest.raises(IndexMismatchError, match="does not match its manifest"):
        load_index(tmp_path / "index", MODEL)
    with pytest.raises(IndexMissingError, match="paperradar index"):
        load_index(tmp_path / "nowhere", MODEL)


def test_search_ranks_by_cosine_and_skips_withdrawn(tmp_path: Path, corpus: list[Paper], embedder) -> None:  # type: ignore[no-untyped-def]
    build(tmp_path, corpus, embedder)
    # Withdraw the best match after indexing: the published database says so; search must obey.
    query = corpus[3].title
    with Store.open(tmp_path / "work.duckdb") as store:
        store.upsert_papers([dataclasses.replace(corpus[3], version=2,
                                                 comment="This paper has been withdrawn")])
        store.checkpoint()
    snapshot = publish(tmp_path / "home", tmp_path / "work.duckdb", tmp_path / "index", {})
    searcher = Searcher(snapshot, embedder)
    try:
        results = searcher.search(query, k=10, mode="semantic")
        # This snapshot has no keyword index (built without `paperradar index`): hybrid
        # falls back to semantic, keyword mode says what to do.
        assert searcher.search(query, k=10) == results
        with pytest.raises(UserInputError, match="no keyword index"):
            searcher.search(query, k=10, mode="keyword")
    finally:
        searcher.close()
    assert len(results) == 10
    assert corpus[3].arxiv_id not in [r["arxiv_id"] for r in results]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    qvec = embedder.encode_query(query)
    docs = {p.arxiv_id: p for p in corpus}
    for r in results:
        p = docs[r["arxiv_id"]]
        cosine = float(np.dot(qvec, embedder.encode_documents([document_text(p.title, p.abstract)])[0]))
        assert r["score"] == pytest.approx(cosine, abs=2e-3)


@pytest.mark.parametrize("query", ["", "   ", "\x00\x07", "x" * 2001])
def test_bad_queries_are_refused(query: str) -> None:
    with pytest.raises(UserInputError):
        clean_query(query)


def test_control_characters_are_dropped() -> None:
    assert clean_query("graph\x00 neural\tnetworks\n") == "graph neural networks"


def clustered(n: int, dim: int = 48, centres: int = 40, seed: int = 3) -> np.ndarray:
    """Normalised vectors around random centres, shaped like text embeddings' neighbourhoods."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim))
    vecs = middle[rng.integers(0, centres, n)] + 0.6 * rng.normal(size=(n, dim))
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_past_the_threshold_meets_its_recall_and_records_it(tmp_path: Path) -> None:
    from index.faiss_index import save_index

    vecs = clustered(6000)
    keys = np.arange(10, 6010, dtype=np.int64)
    built = build_index(keys, vecs, kind="ivf")
    info = built.info
    assert info["kind"] == "ivf" and info["index_type"].startswith("IVF")
    assert info["recall_at_10"] >= 0.95 and 1 <= info["nprobe"] <= info["nlist"]

    # The recorded recall holds on queries it was not tuned on.
    rng = np.random.default_rng(11)
    queries = vecs[rng.choice(6000, 200, replace=False)] + 0.05 * rng.normal(size=(200, 48))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truth = keys[np.argsort(-(queries @ vecs.T), axis=1)[:, :10]]
    _, found = built.index.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.93

    hashes = np.array([b"h" * 16] * len(keys), "S16")
    save_index(built, tmp_path, keys, hashes, {"model": MODEL, "vector_set": MODEL,
                                               "fingerprint": "x"})
    index, manifest = load_index(tmp_path, MODEL)
    assert manifest["nprobe"] == info["nprobe"] and manifest["recall_at_10"] == info["recall_at_10"]
    from faiss import extract_index_ivf
    assert extract_index_ivf(index).nprobe == info["nprobe"]


def _vectors_for(tmp_path: Path, keys: np.ndarray, vecs: np.ndarray, version: str = "a") -> tuple[
        VectorStore, list[tuple[int, str, str, str]]]:
    store = VectorStore(tmp_path / "vectors", MODEL)
    hashes = [f"{version}{k:015d}"[:16] for k in keys.tolist()]
    store.append(keys, hashes, vecs)
    return store, [(int(k), h, "t", "a") for k, h in zip(keys.tolist(), hashes, strict=True)]


class _NoEmbedding:
    """An embedder for stores whose vectors are all there: embedding anything is a bug."""

    model_name = MODEL
    dimension = 48

    def encode_documents(self, texts):  # type: ignore[no-untyped-def]
        raise AssertionError(f"asked to embed {len(texts)} texts")


def test_ivf_is_updated_in_place_and_deletions_leave_it(tmp_path: Path) -> None:
    vecs = clustered(5000)
    keys = np.arange(1, 5001, dtype=np.int64)
    vectors, inputs = _vectors_for(tmp_path, keys, vecs)
    first = update_index(inputs[:4000], _NoEmbedding(), vectors, tmp_path / "index",  # type: ignore[arg-type]
                         flat_max=1000)
    assert first.rebuilt and first.index_type.startswith("IVF") and first.recall_at_10 >= 0.95

    # 1,000 new papers, 300 withdrawn (gone from the inputs): an update, not a rebuild.
    now = inputs[300:5000]
    second = update_index(now, _NoEmbedding(), vectors, tmp_path / "index", flat_max=1000)  # type: ignore[arg-type]
    assert (second.rebuilt, second.added, second.removed) == (False, 1000, 300)
    from index.faiss_index import index_ids, load_ids
    index, manifest = load_index(tmp_path / "index", MODEL)
    assert sorted(index_ids(index).tolist()) == list(range(301, 5001))
    assert load_ids(tmp_path / "index", manifest)[0].tolist() == list(range(301, 5001))
    assert manifest["trained_on"] == 4000 and manifest["count"] == 4700

    # Nothing changed: nothing written.
    third = update_index(now, _NoEmbedding(), vectors, tmp_path / "index", flat_max=1000)  # type: ignore[arg-type]
    assert not third.written

    # Growing past twice what it was trained on retrains it.
    more = clustered(9000, seed=5)
    more_keys = np.arange(5001, 14001, dtype=np.int64)
    _, extra = _vectors_for(tmp_path, more_keys, more)
    fourth = update_index(now + extra, _NoEmbedding(), vectors, tmp_path / "index", flat_max=1000)  # type: ignore[arg-type]
    assert fourth.rebuilt and load_index(tmp_path / "index", MODEL)[1]["trained_on"] == 13700


def test_the_exact_index_becomes_ivf_when_it_grows_past_the_threshold(tmp_path: Path) -> None:
    vecs = clustered(3000)
    keys = np.arange(1, 3001, dtype=np.int64)
    vectors, inputs = _vectors_for(tmp_path, keys, vecs)
    small = update_index(inputs[:900], _NoEmbedding(), vectors, tmp_path / "index", flat_max=1000)  # type: ignore[arg-type]
    assert small.index_type == "IDMap2,FlatIP"
    grown = update_index(inputs, _NoEmbedding(), vectors, tmp_path / "index", flat_max=1000)  # type: ignore[arg-type]
    assert grown.rebuilt and grown.index_type.startswith("IVF")


def test_a_torn_write_leaves_the_previous_generation_loadable(tmp_path: Path) -> None:
    """A crash after the new files are written but before the manifest names them."""
    vecs = clustered(500)
    keys = np.arange(1, 501, dtype=np.int64)
    vectors, inputs = _vectors_for(tmp_path, keys, vecs)
    update_index(inputs[:400], _NoEmbedding(), vectors, tmp_path / "index")  # type: ignore[arg-type]
    before = (tmp_path / "index" / "manifest.json").read_text()
    (tmp_path / "index" / "faiss-29990101T000000000000.index").write_bytes(b"half a file")
    (tmp_path / "index" / "manifest.json.tmp").write_text("{")
    index, manifest = load_index(tmp_path / "index", MODEL)
    assert index.ntotal == 400 and (tmp_path / "index" / "manifest.json").read_text() == before
    after = update_index(inputs, _NoEmbedding(), vectors, tmp_path / "index")  # type: ignore[arg-type]
    assert after.added == 100 and sorted(p.name for p in (tmp_path / "index").iterdir()) == sorted(
        [load_index(tmp_path / "index", MODEL)[1]["files"][f] for f in ("index", "ids")]
        + ["manifest.json"])


def test_overlapped_encoding_equals_sentence_transformers(corpus: list[Paper], embedder) -> None:  # type: ignore[no-untyped-def]
    """The GPU path (tokenise the next batch while this one runs), checked on the CPU."""
    texts = [document_text(p.title, p.abstract) for p in corpus[:40]]
    import copy

    small = copy.copy(embedder)
    small._batch_size = 16  # several batches, the last one short
    overlapped = small.encode_overlapped(texts)
    plain = embedder.model.encode(texts, batch_size=16, normalize_embeddings=True,
                                  convert_to_numpy=True)
    assert overlapped.shape == plain.shape
    assert np.allclose(overlapped, plain, atol=1e-5)


@pytest.mark.slow
def test_a_model_change_reembeds_into_its_own_set_and_swaps_only_when_complete(
        tmp_path: Path, corpus: list[Paper], embedder, onnx_models: Path) -> None:  # type: ignore[no-untyped-def]
    """Another vector set (here the int8 backend; a new PAPERRADAR_MODEL works the same way)."""
    from index.embed import Embedder

    with Store.open(tmp_path / "work.duckdb") as store:
        store.upsert_papers(corpus)
        inputs = store.embedding_inputs()
    old = VectorStore(tmp_path / "vectors", embedder.vector_set)
    update_index(inputs, embedder, old, tmp_path / "index", shard_size=16)
    old_files = {p.name: p.read_bytes() for p in old.shards()}

    other = Embedder(MODEL, "cpu", backend="onnx-int8", models_dir=onnx_models)
    new = VectorStore(tmp_path / "vectors", other.vector_set)
    assert new.path != old.path

    class Interrupted(Exception):
        pass

    class DiesAfterOneShard:
        calls = 0

        def encode_documents(self, texts):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls > 1:
                raise Interrupted
            return other.encode_documents(texts)

    with pytest.raises(Interrupted):
        update_index(inputs, other, new, tmp_path / "index", encoder=DiesAfterOneShard(),
                     shard_size=16)
    # Until the new set is complete the index still holds (and answers for) the old one.
    index, manifest = load_index(tmp_path / "index", MODEL, embedder.vector_set)
    assert index.ntotal == len(inputs) and len(new.shards()) == 1

    done = update_index(inputs, other, new, tmp_path / "index", shard_size=16)
    assert (done.embedded, done.reused, done.rebuilt) == (len(inputs) - 16, 16, True)
    assert load_index(tmp_path / "index", MODEL)[1]["vector_set"] == other.vector_set
    with pytest.raises(IndexMismatchError, match="PAPERRADAR_EMBED_BACKEND"):
        load_index(tmp_path / "index", MODEL, embedder.vector_set)
    assert {p.name: p.read_bytes() for p in old.shards()} == old_files  # the old set untouched
