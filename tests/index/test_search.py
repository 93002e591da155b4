"""Search modes, filters and similar papers over a real published snapshot.

The snapshot: ~400 real cs.CV/cs.CL papers from three days of the daily-arXiv fixture,
their code links and venues taken from their own comments and abstracts, embedded and
indexed by `paperradar index`. Every answer is checked against an exhaustive
computation: cosine over the stored vectors, the FTS extension's own `match_bm25`, and
the fusion of the two.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from core.errors import UserInputError
from core.publish import current_snapshot
from core.records import Paper
from core.settings import Settings
from core.store import Store
from flows.cli import _embedder, main
from index.search import BLEND_SEMANTIC, RRF_K, Filters, Searcher, blend, fuse, snippet
from tests.support.records import daily_records, record_paper

DAYS = (date(2026, 3, 10), date(2026, 3, 12))
QUERIES = ["diffusion models for image editing", "multilingual speech translation",
           "reinforcement learning from human feedback for language models",
           "3D gaussian splatting", "benchmark"]


def _papers(fixtures_dir: Path) -> list[Paper]:
    records = daily_records(fixtures_dir, {"cs.CV", "cs.CL"}, *DAYS)
    records = records[:: max(1, len(records) // 400)][:400]  # spread over the three days
    return [record_paper(r) for r in records]


@pytest.fixture(scope="module")
def searcher(fixtures_dir: Path, onnx_models: Path, tmp_path_factory: pytest.TempPathFactory,
             ) -> Iterator[Searcher]:
    from ingest.enrichment import enrich_text

    home = tmp_path_factory.mktemp("search") / "home"
    shutil.copytree(onnx_models, home / "models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAPERRADAR_HOME", str(home))
        mp.setenv("PAPERRADAR_DEVICE", "cpu")
        settings = Settings()
        with Store.open(settings.work_db) as store:
            store.upsert_papers(_papers(fixtures_dir))
            enrich_text(store)
        assert main(["index"]) == 0
        searcher = Searcher(current_snapshot(home), _embedder(settings))
        yield searcher
        searcher.close()


def table(searcher: Searcher, sql: str, params: list | None = None) -> list[tuple]:
    return searcher.store.query(sql, params)[1]


def allowed_keys(searcher: Searcher, filters: Filters) -> list[int]:
    where, params = filters.where()
    return [r[0] for r in table(searcher, f"SELECT paper_id FROM papers WHERE {where}", params)]


def exact_semantic(searcher: Searcher, query: str, keys: list[int], k: int) -> list[int]:
    vector = searcher.embedder.encode_query(query)
    scores = {key: float(searcher.index.reconstruct(key) @ vector) for key in keys}
    return [key for key, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))][:k]


def exact_keyword(searcher: Searcher, query: str, keys: list[int], k: int) -> list[int]:
    rows = table(searcher,
                 "SELECT paper_id, score FROM (SELECT paper_id, fts_main_keyword_docs.match_bm25("
                 "paper_id, ?) AS score FROM keyword_docs) WHERE score IS NOT NULL "
                 "AND paper_id IN (SELECT unnest(?::BIGINT[])) ORDER BY score DESC, paper_id "
                 "LIMIT ?", [query, keys, k])
    return [r[0] for r in rows]


def keys_of(searcher: Searcher, results: list[dict]) -> list[int]:
    from core.store import paper_key

    return [paper_key(r["arxiv_id"]) for r in results]


def filter_cases(searcher: Searcher) -> dict[str, Filters]:
    venue = table(searcher, "SELECT venue FROM papers WHERE venue IS NOT NULL GROUP BY 1 "
                            "ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    return {
        "none": Filters(),
        "dates": Filters(since=date(2026, 3, 11), until=date(2026, 3, 11)),
        "category": Filters(categories=("cs.CL",)),
        "venue": Filters(venue=venue),
        "venue name only": Filters(venue=venue.split()[0].lower()),
        "has code": Filters(has_code=True),
        "all together": Filters(since=DAYS[0], until=DAYS[1], categories=("cs.CV", "cs.LG"),
                                has_code=True),
    }


def test_the_snapshot_has_what_the_filters_need(searcher: Searcher) -> None:
    [(papers, with_code, with_venue, days)] = table(
        searcher, "SELECT count(*), count(*) FILTER (WHERE has_code), count(venue), "
                  "count(DISTINCT published::DATE) FROM papers")
    assert papers >= 300 and with_code >= 20 and with_venue >= 10 and days >= 2


def test_keyword_scores_are_the_extensions_bm25(searcher: Searcher) -> None:
    for query in [*QUERIES, "Zhang", "naïve café", "the of and"]:
        ours = searcher.keyword.top(query, 20)
        rows = table(searcher,
                     "SELECT paper_id, score FROM (SELECT paper_id, fts_main_keyword_docs."
                     "match_bm25(paper_id, ?) AS score FROM keyword_docs) WHERE score IS NOT NULL "
                     "ORDER BY score DESC, paper_id LIMIT 20", [query])
        # Scores are float32 in memory: the same to ~1e-6, so near-ties may swap.
        assert [s for _, s in ours] == pytest.approx([r[1] for r in rows], rel=1e-5), query
        exact = dict(table(searcher,
                           "SELECT paper_id, fts_main_keyword_docs.match_bm25(paper_id, ?) "
                           "FROM keyword_docs WHERE paper_id IN (SELECT unnest(?::BIGINT[]))",
                           [query, [key for key, _ in ours]]))
        assert all(exact[key] == pytest.approx(score, rel=1e-5) for key, score in ours), query


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
def test_every_filter_with_every_mode_equals_exhaustive_search(searcher: Searcher, mode: str
                                                                ) -> None:
    k = 10
    for name, filters in filter_cases(searcher).items():
        keys = allowed_keys(searcher, filters)
        assert keys, name
        for query in QUERIES[:3]:
            results = searcher.search(query, k, filters, mode)
            semantic = exact_semantic(searcher, query, keys, len(keys))
            keyword = exact_keyword(searcher, query, keys, len(keys))
            if mode == "semantic":
                expected = semantic[:k]
            elif mode == "keyword":
                expected = keyword[:k]
                # float32 scores: compare each result with the extension's score.
                scores = dict(table(searcher, "SELECT paper_id, fts_main_keyword_docs.match_bm25("
                                              "paper_id, ?) FROM keyword_docs", [query]))
                assert [r["score"] for r in results] == pytest.approx(
                    [scores[key] for key in expected], rel=1e-5), (name, query)
                assert all(r["score"] == pytest.approx(scores[key], rel=1e-5) for r, key in
                           zip(results, keys_of(searcher, results), strict=True))
                continue
            else:
                depth = 100
                vector = searcher.embedder.encode_query(query)
                sem_scores = [(key, float(searcher.index.reconstruct(key) @ vector))
                              for key in semantic[:depth]]
                kw_scores = dict(table(searcher, "SELECT paper_id, fts_main_keyword_docs."
                                       "match_bm25(paper_id, ?) FROM keyword_docs", [query]))
                ranked = blend(sem_scores, [(key, kw_scores[key]) for key in keyword[:depth]])
                fused = dict(ranked)
                assert [r["score"] for r in results] == pytest.approx(
                    [score for _, score in ranked[:k]], abs=1e-4), (name, query)
                assert all(r["score"] == pytest.approx(fused[key], abs=1e-4)
                           for r, key in zip(results, keys_of(searcher, results), strict=True))
                continue
            # The filter never costs results: k of them whenever k papers match.
            assert len(results) == min(k, len(expected)), (name, query)
            assert set(keys_of(searcher, results)) <= set(keys), (name, query)
            if mode == "semantic":
                # Exhaustive cosine may order near-equal scores differently in the last digit.
                assert len(set(keys_of(searcher, results)) & set(expected)) >= k - 1
            else:
                assert keys_of(searcher, results) == expected, (name, query)


def test_filters_restrict_what_they_say(searcher: Searcher) -> None:
    cases = filter_cases(searcher)
    for mode in ("semantic", "keyword", "hybrid"):
        for r in searcher.search("language", 50, cases["category"], mode):
            assert "cs.CL" in r["categories"]
        for r in searcher.search("language", 50, cases["dates"], mode):
            assert r["published"] == "2026-03-11"
        for r in searcher.search("model", 50, cases["has code"], mode):
            assert r["code_url"]
        venue = cases["venue"].venue
        for r in searcher.search("model", 50, cases["venue name only"], mode):
            assert r["venue"].lower().split()[0] == venue.split()[0].lower()


def test_result_fields_and_hybrid_scores(searcher: Searcher) -> None:
    results = searcher.search(QUERIES[0], 10)
    assert len(results) == 10
    first = results[0]
    assert set(first) >= {"arxiv_id", "title", "authors", "published", "primary_category",
                          "score", "venue", "code_url", "url", "snippet", "semantic_score",
                          "keyword_score"}
    assert first["url"] == f"https://arxiv.org/abs/{first['arxiv_id']}"
    # Blended scores lie in [0, 1]; a paper first in both lists scores 1.
    assert all(0 <= r["score"] <= 1 + 1e-9 for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert searcher.search(QUERIES[0], 10) == results  # stable


def test_blend_normalises_each_list() -> None:
    semantic = [(1, 0.9), (2, 0.7), (3, 0.5)]
    keyword = [(3, 12.0), (4, 2.0)]
    blended = dict(blend(semantic, keyword))
    assert blended[1] == pytest.approx(BLEND_SEMANTIC)
    assert blended[3] == pytest.approx(1 - BLEND_SEMANTIC)
    assert blended[2] == pytest.approx(BLEND_SEMANTIC * 0.5)
    assert blended[4] == 0.0
    assert blend([], keyword)[0] == (3, pytest.approx(1 - BLEND_SEMANTIC))


def test_ties_are_broken_by_key() -> None:
    fused = fuse([[(5, 0.9), (3, 0.8)], [(3, 0.7), (5, 0.6)]])
    assert [key for key, _ in fused] == [3, 5]
    assert fused[0][1] == fused[1][1] == pytest.approx(1 / (RRF_K + 1) + 1 / (RRF_K + 2))


def test_snippet_marks_the_query_terms() -> None:
    abstract = ("We study robots. Diffusion policies learn diffusing actions for grasping. "
                "Results are strong.")
    assert snippet(abstract, ["diffus", "grasp"]) == (
        "**Diffusion** policies learn **diffusing** actions for **grasping**.")
    assert snippet(abstract, []) == "We study robots."
    assert snippet("word " * 200, ["word"]).endswith("…")


def test_similar_papers(searcher: Searcher) -> None:
    [(arxiv_id, key)] = table(searcher, "SELECT arxiv_id, paper_id FROM papers ORDER BY "
                                        "arxiv_id LIMIT 1")
    results = searcher.similar(arxiv_id, 5)
    assert len(results) == 5 and arxiv_id not in [r["arxiv_id"] for r in results]
    keys = [k for k in allowed_keys(searcher, Filters()) if k != key]
    vector = searcher.index.reconstruct(key)
    scores = sorted(((float(searcher.index.reconstruct(k) @ vector), k) for k in keys),
                    reverse=True)
    assert keys_of(searcher, results) == [k for _, k in scores[:5]]
    cl = searcher.similar(f"arXiv:{arxiv_id}v1", 5, Filters(categories=("cs.CL",)))
    assert len(cl) == 5 and all("cs.CL" in r["categories"] for r in cl)
    with pytest.raises(UserInputError, match="not in the database"):
        searcher.similar("1901.00001")
    with pytest.raises(UserInputError, match="not an arXiv id"):
        searcher.similar("banana")


@pytest.mark.parametrize(("filters", "message"), [
    (lambda: Filters(categories=("cs.XX",)), "unknown category 'cs.XX'"),
    (lambda: Filters(since=date(2026, 3, 12), until=date(2026, 3, 10)), "is after --until"),
    (lambda: Filters(venue="  "), "--venue is empty"),
])
def test_bad_filters(searcher: Searcher, filters, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserInputError, match=message):
        searcher.search("model", 10, filters())


def test_filters_that_match_nothing_give_nothing(searcher: Searcher) -> None:
    nothing = Filters(since=date(2030, 1, 1))
    for mode in ("semantic", "keyword", "hybrid"):
        assert searcher.search("model", 10, nothing, mode) == []


def test_ivf_index_keeps_filtered_recall(searcher: Searcher) -> None:
    """An IVF index (forced on this small set) probes more lists under a selective filter."""
    from index.faiss_index import build_index

    keys = np.array(allowed_keys(searcher, Filters()), np.int64)
    vectors = np.stack([searcher.index.reconstruct(int(k)) for k in keys])
    exact = searcher.index
    searcher.index = build_index(keys, vectors, kind="ivf").index
    try:
        for filters in (Filters(categories=("cs.CL",)), Filters(has_code=True)):
            allowed = allowed_keys(searcher, filters)
            for query in QUERIES:
                got = keys_of(searcher, searcher.search(query, 10, filters, "semantic"))
                searcher.index, ivf = exact, searcher.index
                want = keys_of(searcher, searcher.search(query, 10, filters, "semantic"))
                searcher.index = ivf
                assert len(got) == min(10, len(allowed))
                assert len(set(got) & set(want)) >= 0.9 * len(want)
    finally:
        searcher.index = exact


def test_cli_search_similar_and_errors_that_need_the_database(searcher: Searcher) -> None:
    import json
    import os

    from tests.flows.test_cli import paperradar

    env = {**os.environ, "PAPERRADAR_HOME": str(searcher.snapshot.path.parents[1]),
           "PAPERRADAR_DEVICE": "cpu"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*paperradar(), *args], capture_output=True, text=True,
                              timeout=300, env=env)

    found = cli("search", QUERIES[0], "-k", "3", "--category", "cs.CV,cs.CL", "--has-code",
                "--json")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)
    assert len(results) == 3 and all(r["code_url"] for r in results)
    here = searcher.search(QUERIES[0], 3, Filters(categories=("cs.CV", "cs.CL"), has_code=True))
    for theirs, ours in zip(results, here, strict=True):
        assert {k: v for k, v in theirs.items() if k != "snippet"} == {
            k: v for k, v in ours.items() if k != "snippet"}, (theirs, ours)
    like = cli("similar", results[0]["arxiv_id"], "-k", "4", "--json")
    assert like.returncode == 0, like.stderr
    assert len(json.loads(like.stdout)) == 4
    for args, message in [
        (("search", "graphs", "--category", "cs.XX"), "unknown category 'cs.XX'"),
        (("similar", "1901.00001"), "not in the database"),
    ]:
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_filters_in_memory_equal_the_sql_rules(searcher: Searcher) -> None:
    cases = list(filter_cases(searcher).values()) + [
        Filters(until=date(2026, 3, 10)), Filters(categories=("cs.LG", "cs.AI")),
        Filters(venue="no such venue"), Filters(since=date(2026, 3, 12), has_code=True)]
    for filters in cases:
        if filters.active:
            assert searcher._allowed(filters).tolist() == sorted(allowed_keys(searcher, filters))
