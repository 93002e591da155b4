"""Search over a published snapshot: semantic (FAISS), keyword (BM25) and hybrid, with filters.

One entry point for the CLI and the dashboard: `Searcher(snapshot, embedder)`, loaded once
per process (model, index, keyword postings, read-only database), then
`searcher.search(query, k, filters, mode)` and `searcher.similar(arxiv_id, k, filters)`.

- semantic: the query's embedding against the FAISS index (cosine).
- keyword: BM25 over title, abstract and authors (index.keyword, DuckDB's FTS index).
- hybrid (default): a convex blend of the two modes' scores over each one's top
  FUSE_DEPTH papers, each min-max normalised within its list:
  score = BLEND_SEMANTIC * semantic' + (1 - BLEND_SEMANTIC) * keyword' (a paper missing
  from a list gets 0 there). On the hand-written known-item set it beat reciprocal-rank
  fusion (MRR@10 0.766 vs 0.692) and either mode alone, on both halves of the set
  (bench/RESULTS.md, "Search quality"); `fuse` (RRF) stays for comparison.

Filters (Filters) compose with every mode and are applied inside the search, never after
it: the papers they allow are selected from the snapshot's columns held in memory
(FilterColumns; no SQL is built from filter values), FAISS
searches only those ids (an IDSelector; an IVF index probes proportionally more lists),
and BM25 scores only those documents. So k results come back whenever k papers match.
Withdrawn papers are always left out.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from core.arxiv_ids import abs_url, split_arxiv_id
from core.errors import UserInputError
from core.publish import Snapshot
from core.store import Store, paper_key
from index.embed import Embedder
from index.faiss_index import load_index

MAX_K = 1000
MAX_QUERY_CHARS = 2000
MODES = ("hybrid", "semantic", "keyword")
RRF_K = 60
BLEND_SEMANTIC = 0.4  # weight of the semantic score in hybrid (keyword: 1 - this)
FUSE_DEPTH = 100  # each mode's ranking fused in hybrid: max(FUSE_DEPTH, 2k) papers deep
SNIPPET_CHARS = 240
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']*")


def clean_query(query: str) -> str:
    """The query with control characters dropped and whitespace collapsed; rejects empty ones."""
    text = "".join(ch for ch in query if unicodedata.category(ch)[0] != "C" or ch in "\t\n")
    text = " ".join(text.split())
    if not text:
        raise UserInputError("the query is empty: give some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise UserInputError(
            f"the query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS}"
        )
    return text


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise UserInputError(f"-k must be between 1 and {MAX_K}, not {k}")
    return k


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise UserInputError(f"unknown search mode {mode!r}: use {', '.join(MODES)}")
    return mode


@dataclass(frozen=True)
class Filters:
    """What a result must be. Dates are v1 (first version) dates, both ends inclusive.

    `categories`: any of them (cross-lists count). `venue`: a venue as stored ("ICML 2026")
    or its name alone ("ICML": any year, workshops too), case-insensitive.
    """

    since: date | None = None
    until: date | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)
    venue: str | None = None
    has_code: bool = False

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise UserInputError(
                f"--since {self.since} is after --until {self.until}: nothing can match"
            )
        if self.venue is not None and not self.venue.strip():
            raise UserInputError("--venue is empty: give a venue such as 'ICML 2026' or 'ICML'")

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.categories or self.venue or self.has_code)

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over `papers` and its parameters (values never enter the text)."""
        clauses, params = ["NOT withdrawn"], []
        if self.since:
            clauses.append("published >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("published < ?")
            params.append(self.until + timedelta(days=1))
        if self.categories:
            clauses.append("list_has_any(categories, ?::VARCHAR[])")
            params.append(list(self.categories))
        if self.venue:
            clauses.append("(lower(venue) = lower(?) OR starts_with(lower(venue), lower(?) || ' '))")
            params += [self.venue.strip(), self.venue.strip()]
        if self.has_code:
            clauses.append("has_code")
        return " AND ".join(clauses), params


class FilterColumns:
    """The filterable columns of every paper, in memory: a filter costs a millisecond.

    Selecting the allowed papers in DuckDB costs 10-25 ms per query at 72k papers (the
    category lists are scanned); here they are numpy arrays read once per snapshot, and
    a filter is a few vectorised comparisons. `Filters.where()` states the same rules in
    SQL; the tests hold the two equal.
    """

    def __init__(self, store: Store) -> None:
        data = store.con.execute(
            "SELECT paper_id, published::DATE AS day, has_code, withdrawn, lower(venue) AS venue, "
            "categories FROM papers ORDER BY paper_id"
        ).fetchnumpy()
        self.keys = np.asarray(data["paper_id"], np.int64)
        self.day = np.asarray(data["day"]).astype("datetime64[D]")
        self.has_code = np.asarray(data["has_code"], bool)
        self.live = ~np.asarray(data["withdrawn"], bool)
        self._venue = [None if v is np.ma.masked else v for v in data["venue"]]
        self._venue_masks: dict[str, np.ndarray] = {}
        rows: dict[str, list[int]] = {}
        for row, categories in enumerate(data["categories"]):
            for category in categories:
                rows.setdefault(category, []).append(row)
        self.category_rows = {c: np.array(r, np.int64) for c, r in rows.items()}

    def venue_mask(self, venue: str) -> np.ndarray:
        wanted = venue.strip().lower()
        if wanted not in self._venue_masks:
            prefix = wanted + " "
            self._venue_masks[wanted] = np.array(
                [v is not None and (v == wanted or v.startswith(prefix)) for v in self._venue],
                bool,
            )
        return self._venue_masks[wanted]

    def allowed(self, filters: Filters) -> np.ndarray:
        """Sorted keys of the papers `filters` allows (withdrawn ones never)."""
        mask = self.live.copy()
        if filters.since:
            mask &= self.day >= np.datetime64(filters.since, "D")
        if filters.until:
            mask &= self.day <= np.datetime64(filters.until, "D")
        if filters.categories:
            any_of = np.zeros(len(mask), bool)
            for category in filters.categories:
                any_of[self.category_rows.get(category, np.zeros(0, np.int64))] = True
            mask &= any_of
        if filters.venue:
            mask &= self.venue_mask(filters.venue)
        if filters.has_code:
            mask &= self.has_code
        return self.keys[mask]


class Searcher:
    """Searches one snapshot. Build it once and reuse it: loading costs a second or two."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, store: Store | None = None,
                 index_dir: Path | None = None) -> None:
        """Searches `snapshot` (read-only). `store` and `index_dir` instead: an open store and
        an index folder, e.g. the working ones the daily flow checks watchlists on before it
        publishes (one process can open a DuckDB file in one mode only, so the writer lends
        its own connection); the store stays open when the searcher closes."""
        self.snapshot = snapshot
        self.embedder = embedder
        self.index, self.manifest = load_index(
            index_dir or snapshot.index_dir, embedder.model_name, embedder.vector_set
        )
        self._owns_store = store is None
        self.store = store if store is not None else Store.open_read_only(snapshot.db_path)
        # One query at a time gains nothing from OpenMP threads, and their spin-waits cost
        # milliseconds whenever another process holds a core (a flow, the dashboard).
        faiss.omp_set_num_threads(1)
        self._lock = threading.RLock()  # one DuckDB connection: one query at a time

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    @cached_property
    def has_keyword_index(self) -> bool:
        """Whether the snapshot carries the FTS index (`paperradar index` builds it)."""
        with self._lock:
            _, rows = self.store.query(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = "
                "'fts_main_keyword_docs' AND table_name = 'postings'"
            )
        return bool(rows[0][0])

    @cached_property
    def keyword(self) -> Any:
        from index.keyword import KeywordIndex

        with self._lock:
            return KeywordIndex(self.store)

    @cached_property
    def columns(self) -> FilterColumns:
        with self._lock:
            return FilterColumns(self.store)

    @property
    def categories(self) -> frozenset[str]:
        return frozenset(self.columns.category_rows)

    def check_filters(self, filters: Filters) -> Filters:
        unknown = [c for c in filters.categories if c not in self.categories]
        if unknown:
            raise UserInputError(
                f"unknown category {unknown[0]!r}: no paper in the database has it "
                f"(known here: {', '.join(sorted(self.categories)[:8])}, ...)"
            )
        return filters

    # -- the entry points

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: str = "hybrid"
    ) -> list[dict[str, Any]]:
        """The k best papers for `query` by `mode`, best first; ties broken by arXiv id."""
        query, k, mode = clean_query(query), check_k(k), check_mode(mode)
        filters = self.check_filters(filters or Filters())
        allowed = self._allowed(filters)
        if not self.has_keyword_index:
            if mode == "keyword":
                raise UserInputError(
                    "this snapshot has no keyword index: run `paperradar index` to build it"
                )
            mode = "semantic"  # hybrid without BM25 is semantic
        if mode == "keyword":
            ranked = self._keyword(query, k, allowed)
            return self._results(ranked, k, query, {"keyword": dict(ranked)})
        if mode == "semantic":
            ranked = self._semantic(self.embedder.encode_query(query), k, allowed)
            return self._results(ranked, k, query, {"semantic": dict(ranked)})
        depth = max(FUSE_DEPTH, 2 * k)
        keyword: list[tuple[int, float]] = []
        worker = threading.Thread(
            target=lambda: keyword.extend(self._keyword(query, depth, allowed))
        )
        worker.start()  # BM25 runs while the query is embedded (both release the GIL)
        semantic = self._semantic(self.embedder.encode_query(query), depth, allowed)
        worker.join()
        semantic = semantic[:depth]  # without filters FAISS over-fetches a little
        fused = blend(semantic, keyword)
        return self._results(fused, k, query, {"semantic": dict(semantic),
                                                "keyword": dict(keyword)})

    def similar(
        self, arxiv_id: str, k: int = 10, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        """Papers closest to a stored paper's vector (the paper itself left out)."""
        k = check_k(k)
        filters = self.check_filters(filters or Filters())
        key = paper_key(split_arxiv_id(arxiv_id)[0])
        vector = self._stored_vector(key, arxiv_id)
        allowed = self._allowed(filters)
        if allowed is not None:
            allowed = allowed[allowed != key]
        ranked = [(i, s) for i, s in self._semantic(vector, k + 1, allowed) if i != key][:k]
        return self._results(ranked, k, None, {"semantic": dict(ranked)})

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """Sorted keys of the papers `filters` allows (never withdrawn ones); None when
        there are no filters."""
        return self._allowed(filters)

    def absolute_scores(self, query: str, within: np.ndarray) -> list[tuple[int, float, float | None]]:
        """(key, cosine, keyword score) of every paper of `within` (keys) that the index
        holds, by key: no ranking and no k, so nothing is cut off.

        The cosine is the query's embedding against the paper's; the keyword score is
        BM25 over the query's terms divided by the most a paper could score for them
        (KeywordIndex.normalised_scores, 0..1; None without a keyword index). Unlike
        `search`'s scores, which are normalised within each query's result lists, these
        mean the same for every query and every set of papers: watchlists hold them to a
        fixed minimum (index/watch.py). A paper missing from the answer is not indexed
        (yet). Filters are the caller's (`allowed`).
        """
        query = clean_query(query)
        allowed = np.unique(np.asarray(within, np.int64))
        if len(allowed) == 0 or self.index.ntotal == 0:
            return []
        vector = self.embedder.encode_query(query).reshape(1, -1).astype(np.float32)
        selector = faiss.IDSelectorBatch(allowed)
        ivf = _ivf(self.index)
        params = (faiss.SearchParameters(sel=selector) if ivf is None
                  else faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nlist))  # every list
        cosines, ids = self.index.search(vector, len(allowed), params=params)
        found = {int(i): float(c) for c, i in zip(cosines[0], ids[0], strict=True) if i >= 0}
        keys = np.array(sorted(found), np.int64)
        keyword: dict[int, float] | None = None
        if self.has_keyword_index:
            with self._lock:
                normalised = self.keyword.normalised_scores(query)
                docids = self.keyword.docids_of(keys)
            keyword = dict(zip(self.keyword.paper_ids[docids].tolist(),
                               normalised[docids].tolist(), strict=True))
        return [(int(key), found[int(key)], None if keyword is None else keyword.get(int(key), 0.0))
                for key in keys]

    # -- the parts

    def _allowed(self, filters: Filters) -> np.ndarray | None:
        """Sorted keys of the papers the filters allow; None for no filters."""
        if not filters.active:
            return None
        with self._lock:
            return self.columns.allowed(filters)

    def _semantic(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        total = self.index.ntotal
        if total == 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = vector.reshape(1, -1).astype(np.float32)
        if allowed is None:
            # Over-fetch: papers withdrawn since the index was built are dropped later.
            scores, ids = self.index.search(query, min(total, k + max(10, k // 4)))
        else:
            selector = faiss.IDSelectorBatch(allowed)
            ivf = _ivf(self.index)
            if ivf is None:
                params = faiss.SearchParameters(sel=selector)
            else:
                # Probe more lists the fewer papers are allowed, so as many allowed
                # candidates are scanned as an unfiltered search scans papers.
                share = max(len(allowed) / total, 1e-6)
                nprobe = min(ivf.nlist, math.ceil(ivf.nprobe / share))
                params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
            scores, ids = self.index.search(query, min(len(allowed), k), params=params)
        found = [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        return sorted(found, key=lambda item: (-item[1], item[0]))

    def _keyword(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.keyword.paper_ids), bool)
            mask[self.keyword.docids_of(allowed)] = True
        with self._lock:
            return self.keyword.top(query, k, mask)  # type: ignore[no-any-return]

    def _stored_vector(self, key: int, arxiv_id: str) -> np.ndarray:
        with self._lock:
            _, rows = self.store.query("SELECT withdrawn FROM papers WHERE paper_id = ?", [key])
        if not rows:
            raise UserInputError(f"{arxiv_id} is not in the database")
        try:
            if _ivf(self.index) is not None:
                ivf = _ivf(self.index)
                if ivf.direct_map.type == faiss.DirectMap.NoMap:
                    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            return np.asarray(self.index.reconstruct(key), np.float32)
        except RuntimeError:
            raise UserInputError(
                f"{arxiv_id} is not in the index yet"
                + (" (it is withdrawn)" if rows[0][0] else ": run `paperradar index`")
            ) from None

    def _results(
        self,
        ranked: Sequence[tuple[int, float]],
        k: int,
        query: str | None,
        parts: dict[str, dict[int, float]],
    ) -> list[dict[str, Any]]:
        """Result dicts for the first k of `ranked` still in the database (not withdrawn).

        Rows are fetched a page at a time, so a long fused ranking costs one small query.
        """
        chosen: list[tuple[float, dict[str, Any], int]] = []
        start = 0
        while len(chosen) < k and start < len(ranked):
            page = ranked[start : start + k - len(chosen) + 5]
            start += len(page)
            with self._lock:
                rows = self.store.papers_by_key([key for key, _ in page])
            for key, score in page:
                row = rows.get(key)
                if row is not None and not row["withdrawn"] and len(chosen) < k:
                    chosen.append((score, row, key))
        terms = self._highlight_terms(query) if query else []
        results = []
        for score, row, key in chosen:
            result = _result(row, score, terms)
            for name, scores in parts.items():
                result[f"{name}_score"] = round(float(scores[key]), 4) if key in scores else None
            results.append(result)
        return results

    def _highlight_terms(self, query: str) -> list[str]:
        """The query's stems (as the keyword index cuts them), for snippets."""
        try:
            with self._lock:
                return self.keyword.stems(query)  # type: ignore[no-any-return]
        except Exception:  # no keyword index in this snapshot: plain lower-case words
            return [w.lower() for w in _WORD.findall(query) if len(w) > 2]


def blend(
    semantic: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float]],
    weight: float = BLEND_SEMANTIC,
) -> list[tuple[int, float]]:
    """Hybrid scores: weight * semantic' + (1 - weight) * keyword', each min-max normalised
    over its own list (0 for a paper the list lacks), best first, ties by key."""
    scores: dict[int, float] = {}
    for ranking, share in ((semantic, weight), (keyword, 1.0 - weight)):
        if not ranking:
            continue
        values = [score for _, score in ranking]
        low, span = min(values), max(values) - min(values)
        for key, score in ranking:
            normalised = (score - low) / span if span > 0 else 1.0
            scores[key] = scores.get(key, 0.0) + share * normalised
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def fuse(rankings: Sequence[Sequence[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: each key scores sum(1 / (k + rank)), rank from 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (key, _) in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def snippet(abstract: str, terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """The abstract's sentence richest in the query's terms, cut to `width`, with **marks**.

    A word is marked when it starts with one of the (stemmed) terms, as "diffusion" with
    "diffus". Without terms, the abstract's beginning.
    """
    sentences = _SENTENCE.split(" ".join(abstract.split())) or [""]
    if not terms:
        best = sentences[0]
        return best if len(best) <= width else best[:width].rsplit(" ", 1)[0] + " …"
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        + r")[\w\-']*", re.IGNORECASE
    )

    def hits(sentence: str) -> int:
        return len({m.group(0).lower() for m in pattern.finditer(sentence)})

    best = max(sentences, key=hits)
    if len(best) > width:
        best = best[:width].rsplit(" ", 1)[0] + " …"
    return pattern.sub(lambda m: f"**{m.group(0)}**", best)


def _ivf(index: faiss.Index) -> Any:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _result(row: dict[str, Any], score: float, terms: Sequence[str]) -> dict[str, Any]:
    return {
        "arxiv_id": row["arxiv_id"],
        "title": row["title"],
        "authors": list(row["authors"]),
        "published": row["published"].date().isoformat(),
        "primary_category": row["primary_category"],
        "categories": list(row["categories"]),
        "score": round(float(score), 6),
        "venue": row["venue"],
        "code_url": row["code_url"],
        "code_official": row.get("code_official"),
        "url": abs_url(row["arxiv_id"]),
        "snippet": snippet(row.get("abstract") or "", terms),
    }
