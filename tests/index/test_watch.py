"""Watchlist checks on a real store: ~300 real cs.CV/cs.CL papers of two days stored, enriched
from their text and indexed by `paperradar index` (the real model), then ~150 papers of the
next day arriving later. Every check is held against an exhaustive computation: the
cosine of each paper's indexed vector to the query, the FTS extension's own BM25 divided
by its maximum, and the filters' SQL rules."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import UserInputError
from core.publish import Snapshot, current_snapshot
from core.records import Paper
from core.settings import Settings
from core.store import Store
from core.watch_store import Watchlist, WatchStore
from flows import steps
from index.keyword import K1
from index.search import BLEND_SEMANTIC, FUSE_DEPTH, Filters, Searcher
from index.watch import DEFAULT_MIN_SCORE, FIRST_DAYS, check_watchlists, new_watchlist
from tests.support.watch_home import FIRST, store_papers

QUERY = "diffusion models for image editing"


@pytest.fixture()
def home(watch_home: Path) -> Path:
    return watch_home


@pytest.fixture()
def corpus(watch_corpus: tuple[list[Paper], list[Paper]]) -> tuple[list[Paper], list[Paper]]:
    return watch_corpus


@pytest.fixture()
def searcher(home: Path) -> Iterator[Searcher]:
    """A searcher over the published snapshot (what the brute force reads)."""
    s = Searcher(current_snapshot(home), steps.embedder(Settings()))
    yield s
    s.close()


def rows(home: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        return db.query(sql, params)[1]


def check(names: list[str] | None = None) -> Any:
    """One check of the working database, as `paperradar index` and the daily flow run it."""
    return steps.match_watchlists(Settings(), names=names)


def add(watch: Watchlist) -> None:
    """Store a watchlist without its first check (checked by the next `check`)."""
    with Store.open(Settings().work_db) as store:
        WatchStore(store).add(watch, store.con.execute("SELECT now()::TIMESTAMP").fetchone()[0])
        store.checkpoint()


def work_matches(name: str) -> dict[str, tuple[float, float, float | None]]:
    with Store.open(Settings().work_db) as store:
        found = store.query("SELECT arxiv_id, score, semantic_score, keyword_score FROM "
                            "watch_matches WHERE watchlist = ?", [name])[1]
    return {r[0]: (r[1], r[2], r[3]) for r in found}


def exhaustive(searcher: Searcher, watch: Watchlist, arxiv_ids: set[str]) -> dict[str, float]:
    """arxiv_id -> the mode's score, for the papers of `arxiv_ids` the filters allow: the
    cosine of the indexed vector, the extension's BM25 over the content terms / its maximum."""
    where, params = Filters(categories=watch.categories, venue=watch.venue,
                            has_code=watch.has_code).where()
    db = searcher.store
    allowed = {a: k for a, k in db.query(f"SELECT arxiv_id, paper_id FROM papers WHERE {where}",
                                         params)[1] if a in arxiv_ids}
    terms = searcher.keyword.stems(watch.query)
    best = (K1 + 1) * sum(r[0] for r in db.query(
        "SELECT log10((s.num_docs - d.df + 0.5) / (d.df + 0.5) + 1) FROM "
        "fts_main_keyword_docs.dict d, fts_main_keyword_docs.stats s "
        "WHERE d.term IN (SELECT unnest(?::VARCHAR[]))", [terms])[1])
    # The extension stems the words itself; stop words are left out of the query it gets.
    words = [w for (w,) in db.query("SELECT unnest(fts_main_keyword_docs.tokenize(?))",
                                     [watch.query])[1] if w not in searcher.keyword._stopwords]
    bm25 = dict(db.query("SELECT paper_id, coalesce(fts_main_keyword_docs.match_bm25(paper_id, ?), 0) "
                         "FROM keyword_docs", [" ".join(words)])[1])
    vector = searcher.embedder.encode_query(watch.query)
    scores = {}
    for arxiv_id, key in allowed.items():
        cosine = float(searcher.index.reconstruct(key) @ vector)
        keyword = bm25[key] / best if best else 0.0
        scores[arxiv_id] = {"semantic": cosine, "keyword": keyword,
                            "hybrid": BLEND_SEMANTIC * cosine + (1 - BLEND_SEMANTIC) * keyword
                            }[watch.mode]
    return scores


def assert_matches_are_exhaustive(found: dict[str, tuple], expected: dict[str, float],
                                  min_score: float) -> None:
    """`found` = the papers scoring >= min_score, with their scores (float32 vectors: papers
    within 1e-4 of the minimum may fall either way)."""
    sure = {a for a, s in expected.items() if s >= min_score + 1e-4}
    maybe = {a for a, s in expected.items() if s >= min_score - 1e-4}
    assert sure <= set(found) <= maybe
    for arxiv_id, (score, *_) in found.items():
        assert score >= min_score
        assert score == pytest.approx(expected[arxiv_id], abs=1e-4), arxiv_id


# ---------------------------------------------------------------- input


def test_new_watchlist_checks_its_input() -> None:
    w = new_watchlist("img-edit", "  diffusion   models ", ["cs.CV", "cs.CV", " cs.LG"])
    assert (w.name, w.query, w.categories, w.min_score, w.mode) == (
        "img-edit", "diffusion models", ("cs.CV", "cs.LG"), DEFAULT_MIN_SCORE["hybrid"], "hybrid")
    assert new_watchlist("a", "q", mode="semantic").min_score == DEFAULT_MIN_SCORE["semantic"]
    assert new_watchlist("a.b_c-1", "q", min_score=1).min_score == 1.0
    bad: list[tuple[dict[str, Any], str]] = [
        ({"name": "two words"}, "bad watchlist name"), ({"name": "-x"}, "bad watchlist name"),
        ({"name": "x" * 65}, "bad watchlist name"), ({"query": "  "}, "query is empty"),
        ({"min_score": 0}, "--min-score"), ({"min_score": 1.01}, "--min-score"),
        ({"min_score": float("nan")}, "--min-score"), ({"mode": "fuzzy"}, "unknown search mode"),
        ({"venue": " "}, "--venue is empty"),
        ({"categories": ["cs.XX"], "known_categories": ["cs.CL"]}, "unknown category 'cs.XX'"),
    ]
    for change, message in bad:
        args: dict[str, Any] = {"name": "ok", "query": "q", **change}
        with pytest.raises(UserInputError, match=message.replace("(", r"\(")):
            new_watchlist(**args)


# ---------------------------------------------------------------- scores


def test_keyword_scores_are_bm25_over_the_most_a_paper_can_score(searcher: Searcher) -> None:
    """normalised_scores = the extension's match_bm25 over the query's content terms / (k1 + 1)
    sum(idf): the same to float precision, 0 without any term, below 1 always."""
    for query in (QUERY, "multilingual speech translation", "the of and", "Zhang"):
        watch = Watchlist("w", query, mode="keyword")
        ids = {r[0] for r in searcher.store.query("SELECT arxiv_id FROM papers")[1]}
        expected = exhaustive(searcher, watch, ids)
        normalised = searcher.keyword.normalised_scores(query)
        by_key = dict(zip(searcher.keyword.paper_ids.tolist(), normalised.tolist(), strict=True))
        keys = dict(searcher.store.query("SELECT arxiv_id, paper_id FROM papers")[1])
        for arxiv_id, score in expected.items():
            assert by_key.get(keys[arxiv_id], 0.0) == pytest.approx(score, abs=1e-5), (query, arxiv_id)
        assert 0.0 <= normalised.min() and normalised.max() < 1.0
    assert not searcher.keyword.normalised_scores("the of and").any()


def test_absolute_scores_cover_every_given_paper_without_k(searcher: Searcher) -> None:
    keys = np.array([r[0] for r in searcher.store.query("SELECT paper_id FROM papers")[1]])
    scored = searcher.absolute_scores(QUERY, keys)
    assert [k for k, _, _ in scored] == sorted(keys.tolist())  # all of them, more than any k
    vector = searcher.embedder.encode_query(QUERY)
    for key, cosine, keyword in scored[:50]:
        assert cosine == pytest.approx(float(searcher.index.reconstruct(key) @ vector), abs=1e-5)
        assert keyword is not None and 0.0 <= keyword < 1.0
    assert searcher.absolute_scores(QUERY, keys[:3]) == scored_subset(scored, keys[:3])
    assert searcher.absolute_scores(QUERY, np.array([12345], np.int64)) == []  # not indexed


def scored_subset(scored: list[tuple], keys: np.ndarray) -> list[tuple]:
    wanted = set(keys.tolist())
    return [s for s in scored if s[0] in wanted]


# ---------------------------------------------------------------- checks


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_a_first_check_reports_exactly_the_papers_above_the_minimum(
    home: Path, searcher: Searcher, mode: str
) -> None:
    watch = new_watchlist(f"w-{mode}", QUERY, mode=mode, min_score={"hybrid": 0.35, "semantic": 0.35,
                                                                      "keyword": 0.3}[mode])
    add(watch)
    report = check()
    ids = {r[0] for r in rows(home, "SELECT arxiv_id FROM papers")}
    assert report.checked == {watch.name: len(ids)}  # every stored paper is of the last 7 days
    found = work_matches(watch.name)
    assert 3 <= len(found) < len(ids) / 2, len(found)
    assert report.matches == {watch.name: len(found)}
    assert_matches_are_exhaustive(found, exhaustive(searcher, watch, ids), watch.min_score)
    for score, semantic, keyword in found.values():  # the parts are stored too
        assert semantic is not None and keyword is not None
        assert score == pytest.approx({"hybrid": 0.4 * semantic + 0.6 * keyword,
                                       "semantic": semantic, "keyword": keyword}[mode], abs=1e-5)


def test_a_first_check_looks_at_the_last_days_only(home: Path) -> None:
    """A new watchlist does not report the whole corpus: only papers of the FIRST_DAYS v1
    days up to the newest (here papers moved back a month are out of reach)."""
    with Store.open(Settings().work_db) as store:
        store.con.execute("UPDATE papers SET published = published - INTERVAL 30 DAY "
                          "WHERE published::DATE = ?", [FIRST[0]])
        old = {r[0] for r in store.query("SELECT arxiv_id FROM papers WHERE published < ?",
                                         [FIRST[0]])[1]}
        assert 50 < len(old) < 250
        store.checkpoint()
    add(new_watchlist("everything", "paper", mode="semantic", min_score=0.01))
    report = check()
    found = set(work_matches("everything"))
    assert len(found) > 50 and not found & old
    recent = rows(home, "SELECT count(*) FROM papers")[0][0] - len(old)
    assert report.checked["everything"] == recent  # exactly the recent papers were looked at
    assert FIRST_DAYS == 7


def test_filters_are_applied(home: Path, searcher: Searcher) -> None:
    venue = rows(home, "SELECT venue FROM papers WHERE venue IS NOT NULL GROUP BY 1 "
                       "ORDER BY count(*) DESC, 1 LIMIT 1")[0][0]
    cases = [
        new_watchlist("cat", QUERY, ["cs.CL"], min_score=0.2),
        new_watchlist("code", QUERY, has_code=True, min_score=0.2),
        new_watchlist("venue", "model", venue=venue.split()[0], min_score=0.05),
    ]
    for watch in cases:
        add(watch)
    check()
    ids = {r[0] for r in rows(home, "SELECT arxiv_id FROM papers")}
    for watch in cases:
        found = work_matches(watch.name)
        assert found, watch.name
        assert_matches_are_exhaustive(found, exhaustive(searcher, watch, ids), watch.min_score)
    with Store.open(Settings().work_db) as store:
        [(bad_cat,)] = store.query("SELECT count(*) FROM watch_matches JOIN papers USING (arxiv_id) "
                                   "WHERE watchlist = 'cat' AND NOT list_contains(categories, 'cs.CL')")[1]
        [(bad_code,)] = store.query("SELECT count(*) FROM watch_matches JOIN papers USING (arxiv_id) "
                                    "WHERE watchlist = 'code' AND NOT has_code")[1]
    assert bad_cat == bad_code == 0


def test_many_matches_are_all_reported_whatever_k(home: Path, searcher: Searcher) -> None:
    watch = new_watchlist("broad", "a study of models", mode="semantic", min_score=0.05)
    add(watch)
    check()
    found = work_matches("broad")
    ids = {r[0] for r in rows(home, "SELECT arxiv_id FROM papers")}
    assert len(found) > FUSE_DEPTH  # more than hybrid search looks at, more than a page of k
    assert_matches_are_exhaustive(found, exhaustive(searcher, watch, ids), watch.min_score)


def test_checks_never_report_a_paper_twice_and_pick_up_new_papers(
    home: Path, corpus: tuple[list[Paper], list[Paper]]
) -> None:
    watch = new_watchlist("edit", QUERY, min_score=0.3)
    add(watch)
    first = check()
    before = work_matches("edit")
    assert first.matches["edit"] == len(before) > 0
    again = check()  # nothing new
    assert again.matches == {"edit": 0} and again.checked == {"edit": 0}
    assert work_matches("edit") == before

    # The next day's papers arrive (and a first-day paper gets a new version: not new).
    revised = corpus[0][0]
    store_papers(home, [*corpus[1], dataclasses.replace(revised, version=2)])
    steps.index_papers(Settings(), topics=False)
    third = check()
    later = {p.arxiv_id for p in corpus[1]}
    assert third.checked == {"edit": len(later)}
    after = work_matches("edit")
    assert {a: s for a, s in after.items() if a in before} == before  # the first report stays
    new = set(after) - set(before)
    assert third.matches == {"edit": len(new)} and new and new <= later
    snapshot = steps.publish(Settings(), "test")
    fresh = Searcher(snapshot, steps.embedder(Settings()))
    try:
        expected = exhaustive(fresh, watch, later)
    finally:
        fresh.close()
    assert_matches_are_exhaustive({a: after[a] for a in new}, expected, watch.min_score)
    assert check().matches == {"edit": 0}
    [(n, distinct)] = rows(home, "SELECT count(*), count(DISTINCT arxiv_id) FROM watch_matches")
    assert n == distinct == len(after)


def test_papers_not_indexed_yet_wait_for_the_next_check(
    home: Path, corpus: tuple[list[Paper], list[Paper]]
) -> None:
    watch = new_watchlist("edit", QUERY, min_score=0.3)
    add(watch)
    check()
    before = work_matches("edit")
    with Store.open(Settings().work_db) as store:
        [(through,)] = store.query("SELECT checked_through FROM watchlists")[1]
    store_papers(home, corpus[1])  # stored, not embedded
    waiting = check()
    assert waiting.waiting == {"edit": len(corpus[1])} and waiting.matches == {"edit": 0}
    with Store.open(Settings().work_db) as store:
        [(held,)] = store.query("SELECT checked_through FROM watchlists")[1]
        [(first_new,)] = store.query("SELECT min(first_seen) FROM papers WHERE arxiv_id IN "
                                     "(SELECT unnest(?::VARCHAR[]))", [[p.arxiv_id for p in corpus[1]]])[1]
    assert through <= held < first_new
    steps.index_papers(Settings(), topics=False)
    done = check()
    assert done.waiting == {} and done.checked == {"edit": len(corpus[1])}
    assert done.matches["edit"] == len(work_matches("edit")) - len(before) > 0


def test_a_check_that_fails_half_way_stores_nothing(home: Path, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    """Matches and checked_through of every watchlist are one transaction: a failure (here
    injected while the second watchlist's matches are written) leaves neither, and the next
    check reports everything once."""
    for name in ("a-first", "b-second"):
        add(new_watchlist(name, QUERY, min_score=0.3))
    real = WatchStore._insert
    calls = []

    def failing(self: WatchStore, name: str, *args: Any) -> int:
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("killed while writing")
        return real(self, name, *args)

    monkeypatch.setattr(WatchStore, "_insert", failing)
    with pytest.raises(RuntimeError, match="killed while writing"):
        check()
    monkeypatch.setattr(WatchStore, "_insert", real)
    with Store.open(Settings().work_db) as store:
        assert store.query("SELECT count(*) FROM watch_matches")[1] == [(0,)]
        assert store.query("SELECT count(*) FROM watchlists WHERE checked_through IS NOT NULL "
                           "OR checked_at IS NOT NULL")[1] == [(0,)]
        assert store.query("SELECT status FROM runs WHERE kind = 'watch'")[1] == [("failed",)]
    report = check()
    assert report.matches["a-first"] == len(work_matches("a-first")) > 0
    assert report.matches["b-second"] == len(work_matches("b-second")) > 0


def test_a_check_without_watchlists_loads_nothing(home: Path) -> None:
    report = check()
    assert report.matches == {} and report.line() == "watchlists: none to check"
    assert rows(home, "SELECT count(*) FROM runs WHERE kind = 'watch'") == [(0,)]


def test_check_watchlists_builds_no_searcher_without_candidates(home: Path) -> None:
    add(new_watchlist("edit", QUERY))
    check()
    asked = []
    with Store.open(Settings().work_db) as store:
        report = check_watchlists(WatchStore(store), lambda: asked.append(1) or Searcher(
            Snapshot(home / "work"), steps.embedder(Settings()), store, home / "index"))
    assert report.checked == {"edit": 0} and asked == []
    assert report.line() == "watchlists: 0 matches (edit: 0)"
