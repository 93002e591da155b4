"""The search evaluation: metrics on a hand-made ranking, TF-IDF on a slice of the real corpus."""

from __future__ import annotations

import pytest

from bench.known_items import CorpusPaper, load_corpus
from bench.search_eval import Metrics, TfidfBaseline, evaluate, project_systems, run, title_cases
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def papers() -> dict[str, CorpusPaper]:
    """50 papers drawn with a fixed seed from the daily-arXiv fixture."""
    if not (FIXTURES / "daily-arxiv").is_dir():
        pytest.skip(f"daily-arXiv fixture not found at {FIXTURES / 'daily-arxiv'} "
                    "(clone ../shared beside the repo)")
    corpus = load_corpus(FIXTURES)
    return {arxiv_id: corpus[arxiv_id] for _, arxiv_id in title_cases(corpus, 50)}


def test_evaluate_on_a_known_ranking() -> None:
    rankings = {
        "first": ["a", "x", "y"],
        "third": ["x", "y", "b", "z"],
        "missed": ["x", "y", "z"],
    }
    cases = [("first", "a"), ("third", "b"), ("missed", "c")]
    m = evaluate(rankings.__getitem__, cases)
    assert m.n == 3
    assert m.recall_at_1 == pytest.approx(1 / 3)
    assert m.recall_at_10 == pytest.approx(2 / 3)
    assert m.mrr_at_10 == pytest.approx((1 + 1 / 3) / 3)


def test_evaluate_counts_only_the_top_ten() -> None:
    ranking = [f"x{i}" for i in range(10)] + ["wanted"]
    assert evaluate(lambda _: ranking, [("q", "wanted")]) == Metrics(0.0, 0.0, 0.0, 1)
    with pytest.raises(ValueError):
        evaluate(lambda _: ranking, [])


def test_tfidf_finds_a_paper_by_its_exact_title(papers: dict[str, CorpusPaper]) -> None:
    # arxiv-sanity-lite's df cut-offs (>= 5 papers, <= 10% of them) leave no terms in 50 papers
    tfidf = TfidfBaseline(papers, min_df=1, max_df=1.0)
    arxiv_id, paper = next(iter(papers.items()))
    assert tfidf.rank(paper.title)[0] == arxiv_id
    m = evaluate(tfidf.rank, [(p.title, i) for i, p in papers.items()])
    assert m.recall_at_1 >= 0.95 and m.recall_at_10 == 1.0


def test_tfidf_leaves_out_papers_without_a_shared_term(papers: dict[str, CorpusPaper]) -> None:
    tfidf = TfidfBaseline(papers, min_df=1, max_df=1.0)
    assert tfidf.rank("zzzzqx qqqvvv", k=10) == []
    assert len(tfidf.rank("model", k=5)) <= 5


def test_run_prints_one_row_per_system_and_set(papers: dict[str, CorpusPaper],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tfidf = TfidfBaseline(papers, min_df=1, max_df=1.0)
    table = run({"tf-idf": tfidf.rank, **project_systems(papers)}, FIXTURES, corpus=papers, titles=20)
    assert capsys.readouterr().out.strip() == table
    rows = [line for line in table.splitlines() if line.startswith("| tf-idf |")]
    assert [row.split(" | ")[1] for row in rows] == ["known items", "titles (seed 20261123)"]
    assert rows[1].split(" | ")[2] == "20"
    assert "commit:" in table.splitlines()[0] and "corpus: 50 papers" in table
