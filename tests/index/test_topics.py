"""Topics: labels, fits, refits that keep ids, incremental assignment, and the store's tables."""

from __future__ import annotations

import dataclasses
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from core.records import Paper, text_hash
from core.store import Store, paper_key
from core.topics_store import TopicStore
from index import topics as tp
from index.topic_labels import label_of, terms, topic_terms
from index.topic_update import plan, update_topics
from index.vectors import VectorStore

D = 384
SUBJECTS = {  # the distinctive words of each synthetic cluster
    0: "graph neural networks for molecule property prediction",
    1: "speech recognition for low-resource languages",
    2: "gaussian splatting for novel view synthesis",
    3: "protein folding with diffusion sampling",
}


def clustered(rng: np.random.Generator, centers: np.ndarray, labels: np.ndarray,
              spread: float = 0.01) -> np.ndarray:
    """Unit vectors around the given centers (cosine to the center ~0.98)."""
    return tp.normalise(centers[labels] + rng.normal(0, spread, (len(labels), centers.shape[1])))


# ---------------------------------------------------------------- labels


def test_terms_drop_latex_urls_stop_words_and_boilerplate() -> None:
    text = (r"We propose $\mathcal{O}(n)$ \textbf{Sparse} attention for long-context "
            "language models; code at https://github.com/a/b. Results show gains.")
    found = terms(text)
    assert "sparse attention" in found and "long-context" in found
    assert "language models" in found and "models" not in found  # boilerplate alone, kept in phrases
    assert not [t for t in found if "mathcal" in t or "github" in t or "textbf" in t]
    assert not {"we", "propose", "results", "show", "code"} & set(found)
    assert "attention long-context" not in found  # phrases never span a stop word ("for")


def test_topic_terms_are_distinctive() -> None:
    texts = ([f"Graph neural networks for molecule property prediction {i}" for i in range(6)]
             + [f"Speech recognition for low-resource languages {i}" for i in range(6)]
             + ["A study of neural networks"])  # "neural networks" is shared, less distinctive
    labels = np.array([0] * 6 + [1] * 6 + [1])
    found = topic_terms(texts, labels, 3)
    assert found[2] == []  # no papers
    assert found[0][:2] == ["graph neural networks", "molecule property prediction"]
    assert "speech recognition" in found[1][:3]
    assert "speech" not in found[1]  # covered by the phrase
    assert label_of(found[1]) == "low-resource languages, speech recognition"
    assert label_of([]) == "(no distinctive terms)"


# ---------------------------------------------------------------- clustering


def test_sizes_follow_the_corpus() -> None:
    assert (tp.fine_k(72_000), tp.broad_k(tp.fine_k(72_000))) == (240, 30)
    assert (tp.fine_k(100_000), tp.broad_k(333)) == (333, 40)
    assert tp.fine_k(10**7) == 400 and tp.broad_k(400) == 40
    assert (tp.fine_k(30), tp.broad_k(2)) == (2, 1)


def test_fit_is_deterministic_and_finds_the_clusters() -> None:
    rng = np.random.default_rng(1)
    centers = tp.normalise(rng.normal(size=(10, D)))
    truth = rng.integers(0, 10, 3000)
    x = clustered(rng, centers, truth)
    one, two = tp.fit(x), tp.fit(x.copy())
    assert np.array_equal(one.topic_of(), two.topic_of())
    assert np.array_equal(one.fine.centroids, two.fine.centroids)
    assert len(one.fine.ids) == 10 and len(one.broad.ids) == 1
    # every true cluster is one topic
    assert all(len(set(one.topic_of()[truth == c].tolist())) == 1 for c in range(10))
    assert set(one.fine.ids.tolist()).isdisjoint(one.broad.ids.tolist())


def test_refit_keeps_ids_when_the_corpus_grows_by_a_month() -> None:
    rng = np.random.default_rng(2)
    centers = tp.normalise(rng.normal(size=(11, D)))
    first = rng.integers(0, 10, 3000)  # ten subjects ...
    month = np.r_[rng.integers(0, 10, 300), np.full(100, 10)]  # ... then a month with a new one
    x = clustered(rng, centers, np.r_[first, month])
    before = tp.fit(x[:3000])
    old_fine = np.r_[before.topic_of(), np.full(400, -1)]
    old_broad = np.r_[before.broad_of(), np.full(400, -1)]
    after = tp.refit(x, old_fine, old_broad, next_id=100)
    kept = (after.topic_of()[:3000] == before.topic_of()).mean()
    assert kept >= 0.9 and kept == 1.0  # clean clusters: nobody moves
    new_topic = after.topic_of()[3300:]
    assert len(set(new_topic.tolist())) == 1 and new_topic[0] >= 100  # one new topic, a new id
    assert after.new_ids >= {int(new_topic[0])}
    assert not after.retired_ids & set(before.fine.ids.tolist())
    # the month's papers of old subjects went to their subjects' topics
    same = {c: before.topic_of()[first == c][0] for c in range(10)}
    assert all(after.topic_of()[3000 + i] == same[c] for i, c in enumerate(month[:300].tolist()))


def test_refit_retires_a_topic_whose_papers_are_gone_and_matches_one_to_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tp, "PAPERS_PER_TOPIC", 100)
    rng = np.random.default_rng(3)
    centers = tp.normalise(rng.normal(size=(3, D)))
    x = clustered(rng, centers, np.repeat([0, 1, 2], 100))
    old = tp.fit(x)
    keep = np.r_[0:200]  # the third subject's papers are all withdrawn
    after = tp.refit(x[keep], old.topic_of()[keep], old.broad_of()[keep], next_id=50)
    gone = int(old.topic_of()[250])
    assert gone not in after.fine.ids and not after.new_ids  # (the store retires it)
    assert np.array_equal(after.topic_of(), old.topic_of()[keep])
    matched = tp.match(centers, centers[[2, 0]])
    assert matched.tolist() == [2, 0]
    assert tp.match(centers, -centers[:1]).tolist() == [-1]  # too far: no match


def test_assign_puts_papers_with_their_nearest_topic() -> None:
    rng = np.random.default_rng(4)
    centers = tp.normalise(rng.normal(size=(4, D)))
    model = tp.fit(clustered(rng, centers, np.repeat(np.arange(4), 50)))
    parents = model.broad.ids[model.parent]
    fresh = clustered(rng, centers, np.array([3, 0]))
    fine, sims, broad, _ = tp.assign(fresh, model.fine, model.broad, parents)
    by_center = {c: model.topic_of()[c * 50] for c in range(4)}
    assert fine.tolist() == [by_center[3], by_center[0]]
    assert (sims > 0.5).all() and set(broad.tolist()) <= set(model.broad.ids.tolist())


# ---------------------------------------------------------------- the store


def make_papers(subjects: list[int], start: date, first: int = 0) -> list[Paper]:
    papers = []
    for i, s in enumerate(subjects):
        day = datetime.combine(start + timedelta(days=i % 20), datetime.min.time())
        arxiv_id = f"2601.{first + i:05d}"
        papers.append(Paper(arxiv_id, 1, f"On {SUBJECTS[s]} {i}",
                            f"We study {SUBJECTS[s]}. Variant {i} of the approach.",
                            ("A. Author",), day, day, "cs.LG", ("cs.LG",)))
    return papers


class Corpus:
    """A store of papers and a vector set of synthetic vectors, one cluster per subject."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = Store.open(tmp_path / "work.duckdb")
        self.vectors = VectorStore(tmp_path / "vectors", "synthetic")
        self.rng = np.random.default_rng(5)
        self.centers = tp.normalise(self.rng.normal(size=(len(SUBJECTS), D)))
        self.subject: dict[str, int] = {}

    def add(self, papers: list[Paper]) -> None:
        self.store.upsert_papers(papers)
        subjects = np.array([next(s for s, w in SUBJECTS.items() if w in p.title) for p in papers])
        self.vectors.append(np.array([paper_key(p.arxiv_id) for p in papers]),
                            [text_hash(p.title, p.abstract) for p in papers],
                            clustered(self.rng, self.centers, subjects))
        self.subject.update({p.arxiv_id: int(s) for p, s in zip(papers, subjects, strict=True)})

    def update(self, refit: bool = False):  # type: ignore[no-untyped-def]
        return update_topics(TopicStore(self.store), self.store.embedding_inputs(), self.vectors,
                             refit=refit)

    def rows(self, sql: str) -> list[tuple]:
        return self.store.query(sql)[1]

    def topic_of(self) -> dict[str, int]:
        return dict(self.rows("SELECT arxiv_id, topic_id FROM paper_topics WHERE level = 'fine'"))


@pytest.fixture()
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Corpus:
    monkeypatch.setattr(tp, "PAPERS_PER_TOPIC", 30)
    found = Corpus(tmp_path)
    yield found
    found.store.close()


def test_fit_assign_withdraw_refit_in_the_store(corpus: Corpus) -> None:
    corpus.add(make_papers([0, 1, 2] * 30, date(2026, 1, 5)))
    report = corpus.update()
    assert (report.action, report.papers, report.fine, report.broad) == ("fit", 90, 3, 1)
    topics = {r[0]: r for r in corpus.rows(
        "SELECT label, topic_id, size, born, central_papers, top_terms FROM topics "
        "WHERE level = 'fine'")}
    assert sorted(r[2] for r in topics.values()) == [30, 30, 30]
    labels = " | ".join(topics)
    assert "graph neural networks" in labels and "speech recognition" in labels
    assert "novel view synthesis" in labels
    # born: the 5th percentile of the papers' v1 days (the second earliest of 30)
    assert all(len(r[4]) == 5 and date(2026, 1, 5) <= r[3] <= date(2026, 1, 6)
               for r in topics.values())
    assert corpus.rows("SELECT count(*), count(DISTINCT paper_id) FROM paper_topics") == [(180, 90)]
    first = corpus.topic_of()
    by_subject = {corpus.subject[a]: t for a, t in first.items()}
    assert all(first[a] == by_subject[s] for a, s in corpus.subject.items())
    assert corpus.rows("SELECT count(*) FROM topic_label_history WHERE old_label IS NULL") == [(4,)]

    # A few new papers, and one withdrawn: assigned incrementally, nothing else moves.
    centroids = corpus.rows("SELECT topic_id, centroid FROM topics ORDER BY topic_id")
    corpus.add(make_papers([2, 1, 0, 0], date(2026, 2, 2), first=100))
    withdrawn = dataclasses.replace(make_papers([0], date(2026, 1, 5))[0], version=2,
                                    comment="This paper has been withdrawn by the authors.")
    corpus.store.upsert_papers([withdrawn])
    report = corpus.update()
    assert (report.action, report.assigned, report.papers) == ("assign", 4, 93)
    now = corpus.topic_of()
    assert withdrawn.arxiv_id not in now
    assert all(now[a] == first[a] for a in first if a != withdrawn.arxiv_id)
    assert all(now[a] == by_subject[corpus.subject[a]] for a in now)
    assert corpus.rows("SELECT topic_id, centroid FROM topics ORDER BY topic_id") == centroids
    sizes = dict(corpus.rows("SELECT topic_id, size FROM topics WHERE level = 'fine'"))
    assert sizes[by_subject[0]] == 31 and sizes[by_subject[2]] == 31
    assert corpus.update().assigned == 0  # nothing new: nothing to do

    # A forced refit keeps every id; a label that changed is recorded.
    victim = by_subject[1]
    corpus.store.con.execute("UPDATE topics SET label = 'stale label' WHERE topic_id = ?", [victim])
    report = corpus.update(refit=True)
    assert (report.action, report.kept_share, report.new_topics, report.labels_changed) == \
        ("refit", 1.0, 0, 1)
    assert corpus.topic_of() == now
    history = corpus.rows(f"SELECT old_label, new_label FROM topic_label_history "
                          f"WHERE topic_id = {victim} AND old_label IS NOT NULL")
    assert history[0][0] == "stale label" and "speech recognition" in history[0][1]
    assert corpus.rows("SELECT kind, papers, kept_share FROM topic_fits ORDER BY fit_id") == [
        ("fit", 90, None), ("refit", 93, 1.0)]


def test_growth_triggers_a_refit_with_a_new_topic(corpus: Corpus) -> None:
    corpus.add(make_papers([0, 1, 2] * 30, date(2026, 1, 5)))
    corpus.update()
    before = corpus.topic_of()
    corpus.add(make_papers([3] * 30, date(2026, 3, 2), first=200))  # 120 >= 1.2 x 90
    report = corpus.update()
    assert (report.action, report.fine, report.kept_share) == ("refit", 4, 1.0)
    after = corpus.topic_of()
    assert all(after[a] == t for a, t in before.items())
    new = {after[a] for a, s in corpus.subject.items() if s == 3}
    assert len(new) == 1
    (topic_id,) = new
    assert topic_id > max(before.values())
    label, born = corpus.rows(f"SELECT label, born FROM topics WHERE topic_id = {topic_id}")[0]
    assert "protein folding" in label and born == date(2026, 3, 2)


def test_a_topic_whose_papers_are_all_withdrawn_retires_at_the_refit(corpus: Corpus) -> None:
    papers = make_papers([0, 1, 2] * 30, date(2026, 1, 5))
    corpus.add(papers)
    corpus.update()
    gone = corpus.topic_of()[papers[2].arxiv_id]
    corpus.store.upsert_papers([dataclasses.replace(p, version=2, comment="This paper has been "
                                                    "withdrawn.") for p in papers[2::3]])
    report = corpus.update(refit=True)
    assert (report.action, report.fine, report.retired_topics) == ("refit", 2, 1)
    assert corpus.rows(f"SELECT size, retired_at IS NOT NULL FROM topics WHERE topic_id = {gone}") \
        == [(0, True)]
    assert gone not in corpus.topic_of().values()
    assert corpus.rows(f"SELECT count(*) FROM weekly_topic_counts WHERE topic_id = {gone}") == [(0,)]


def test_plan() -> None:
    fit = {"papers": 1000, "vector_set": "v"}
    assert plan(10, None, False, "v", False) == "none"
    assert plan(100, None, False, "v", False) == "fit"
    assert plan(1100, fit, True, "v", False) == "assign"
    assert plan(1200, fit, True, "v", False) == "refit"
    assert plan(1000, fit, True, "v", True) == "refit"
    assert plan(1000, fit, True, "other", False) == "refit"  # another model: refit in its space


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_index_command_fits_then_assigns_topics(home: Path, onnx_models: Path, fixtures_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from core.publish import current_snapshot
    from core.settings import Settings
    from flows.cli import main
    from tests.index.test_search import _papers

    shutil.copytree(onnx_models, home / "models")
    papers = _papers(fixtures_dir)[:200]
    with Store.open(Settings().work_db) as store:
        store.upsert_papers(papers[:150])
    assert main(["index"]) == 0
    assert "topics: 2 fine / 1 broad over 150 papers, fitted from scratch" in capsys.readouterr().err
    with Store.open(Settings().work_db) as store:
        store.upsert_papers(papers[150:170])
    assert main(["index"]) == 0
    assert "20 new or changed papers assigned" in capsys.readouterr().err
    assert main(["index", "--refit-topics"]) == 0
    kept = re.search(r"refitted: ([\d.]+)% of papers kept their topic", capsys.readouterr().err)
    assert kept and float(kept.group(1)) >= 90
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        assert db.query("SELECT count(*) FROM papers_enriched WHERE topic_id IS NOT NULL")[1] == [(170,)]


@pytest.mark.slow
def test_real_topic_ids_stay_when_the_corpus_grows_by_a_month(fixtures_dir: Path,
                                                              onnx_models: Path) -> None:
    """Real embeddings: every 12th paper of the corpus submitted 2025-11..2026-04 (about
    2,100), then May 2026 added (about 600 more, +29%): a refit keeps >= 90% of the earlier
    papers in their fine topic, and the labels are real phrases."""
    from index.embed import Embedder, document_text
    from ingest.arxiv_api import clean_text
    from tests.support.records import daily_records

    records = daily_records(fixtures_dir, {"cs.CV", "cs.CL", "cs.AI"}, date(2025, 11, 1),
                            date(2026, 5, 31))[::12]
    texts = [document_text(clean_text(r["title"]), clean_text(r["abstract"])) for r in records]
    in_may = np.array([r["_v1"].date() >= date(2026, 5, 1) for r in records])
    embedder = Embedder("all-MiniLM-L6-v2", "cpu", backend="onnx-int8", models_dir=onnx_models)
    x = np.asarray(embedder.encode_documents(texts), np.float32)
    before = tp.fit(x[~in_may])
    old_fine = np.full(len(x), -1)
    old_broad = np.full(len(x), -1)
    old_fine[~in_may], old_broad[~in_may] = before.topic_of(), before.broad_of()
    after = tp.refit(x, old_fine, old_broad, next_id=1000)
    kept = float((after.topic_of()[~in_may] == before.topic_of()).mean())
    assert len(after.fine.ids) > len(before.fine.ids)  # the grown corpus has more topics
    assert kept >= 0.9, f"only {kept:.1%} of the papers kept their topic"
    terms = topic_terms(texts, after.fine_of, len(after.fine.ids))
    assert all(len(t) == 10 for t in terms)
