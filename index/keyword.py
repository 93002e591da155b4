"""Keyword search: BM25 over the DuckDB full-text index (core.fts), scored in memory.

The extension builds the index (tokens, Porter stems, stop words, document lengths) and
its `match_bm25` macro scores a query by joining the whole token table, ~0.3 s per query
at 72k papers. Here the per-(term, document) counts (`postings`, ordered by term) are
loaded once into arrays, and a query costs a few milliseconds: the query's terms come
from the extension's own tokenizer and stemmer, and each score is the extension's BM25
(k1 = 1.2, b = 0.75, idf = log10((N - df + 0.5) / (df + 0.5) + 1)); tests hold the two
to the same ranking and scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.fts import SCHEMA, STEMMER, load_fts
from core.store import Store

K1, B = 1.2, 0.75


class KeywordIndex:
    """BM25 over one (read-only) store's keyword index. Load once; `scores` is cheap."""

    def __init__(self, store: Store) -> None:
        self.con = store.con
        load_fts(self.con)
        postings = self.con.execute(
            f"SELECT termid, docid, tf FROM {SCHEMA}.postings ORDER BY termid, docid"
        ).fetchnumpy()
        docs = self.con.execute(f"SELECT docid, name, len FROM {SCHEMA}.docs").fetchnumpy()
        stats = self.con.execute(f"SELECT num_docs, avgdl FROM {SCHEMA}.stats").fetchone()
        assert stats is not None
        self.num_docs, self.avgdl = int(stats[0]), float(stats[1])
        size = int(docs["docid"].max()) + 1 if len(docs["docid"]) else 0
        self.paper_ids = np.full(size, -1, np.int64)
        self.paper_ids[docs["docid"]] = docs["name"]
        lengths = np.zeros(size, np.float64)
        lengths[docs["docid"]] = docs["len"]
        self._norm = K1 * (1 - B + B * lengths / max(self.avgdl, 1e-9))
        termids = postings["termid"].astype(np.int64)
        self._docids = postings["docid"].astype(np.int64)
        tf = postings["tf"].astype(np.float32)
        # BM25 without the idf, per (term, document): a query only adds idf-weighted rows.
        self._weight = tf * np.float32(K1 + 1) / (tf + self._norm[self._docids].astype(np.float32))
        top = int(termids.max()) + 2 if len(termids) else 1
        self._indptr = np.searchsorted(termids, np.arange(top))
        order = np.argsort(self.paper_ids)
        self._by_paper = (self.paper_ids[order], order)
        self._stopwords = {r[0] for r in self.con.execute(f"SELECT sw FROM {SCHEMA}.stopwords")
                           .fetchall()}
        vocabulary = self.con.execute(f"SELECT term, termid, df FROM {SCHEMA}.dict").fetchnumpy()
        self._vocabulary = dict(zip(vocabulary["term"].tolist(), zip(
            vocabulary["termid"].tolist(), vocabulary["df"].tolist(), strict=True), strict=True))

    def terms(self, query: str) -> list[tuple[int, int]]:
        """(termid, document frequency) of the query's distinct stemmed terms in the index.

        The extension's tokenizer and stemmer cut the query (under a millisecond); the
        vocabulary is a dict in memory (DuckDB's join with the dict table costs ~15 ms).
        """
        rows = self.con.execute(
            f"SELECT DISTINCT stem(unnest({SCHEMA}.tokenize(?)), '{STEMMER}')", [query]
        ).fetchall()
        found = (self._vocabulary.get(term) for (term,) in rows)
        return sorted((int(t), int(df)) for t, df in (f for f in found if f is not None))

    def stems(self, query: str) -> list[str]:
        """The query's distinct stems, stop words left out (to mark them in snippets)."""
        rows = self.con.execute(
            f"SELECT DISTINCT word, stem(word, '{STEMMER}') FROM "
            f"(SELECT unnest({SCHEMA}.tokenize(?)) AS word)", [query]
        ).fetchall()
        return sorted({stem for word, stem in rows if word and word not in self._stopwords})

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every document (by docid) for `query`; 0 where no term matches."""
        total, _ = self._bm25(self.terms(query), np.float32, np.float32)
        return total

    def normalised_scores(self, query: str) -> np.ndarray:
        """BM25 of every document (by docid) over the query's content terms, divided by the
        most any document could score for them, (k1 + 1) * sum(idf): 0 (no term) to just
        under 1 (every term, many times), whatever the query.

        Raw BM25 grows with the number and rarity of the query's terms, so a threshold on it
        means something else for every query (watchlists need one that does not). Stop
        words are left out here even when the index holds them as stray tokens (a "for"
        kept once in 72k papers would otherwise weigh more than every real term).
        """
        found = (self._vocabulary.get(stem) for stem in self.stems(query))
        total, idfs = self._bm25([f for f in found if f is not None], np.float64, float)
        best = idfs * (K1 + 1)
        return total / best if best > 0 else total

    def _bm25(self, terms: list[tuple[int, int]], dtype: Any, idf_type: Any
              ) -> tuple[np.ndarray, float]:
        """Sum over `terms` ((termid, df)) of idf * the term's BM25 weight in each document
        (by docid), as `dtype`; and the sum of their idfs. `idf_type` rounds each idf
        (float32 for `scores`, as the extension computes it)."""
        total = np.zeros(len(self.paper_ids), dtype)
        idfs = 0.0
        for termid, df in terms:
            if termid + 1 >= len(self._indptr):
                continue
            lo, hi = self._indptr[termid], self._indptr[termid + 1]
            idf = idf_type(np.log10((self.num_docs - df + 0.5) / (df + 0.5) + 1))
            total[self._docids[lo:hi]] += idf * self._weight[lo:hi]
            idfs += float(idf)
        return total, idfs

    def docids_of(self, paper_ids: np.ndarray) -> np.ndarray:
        """Docids of the given paper keys (those in the index)."""
        names, order = self._by_paper
        at = np.searchsorted(names, paper_ids)
        at = np.clip(at, 0, max(0, len(names) - 1))
        found = names[at] == paper_ids if len(names) else np.zeros(len(paper_ids), bool)
        return order[at[found]]

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(paper key, score) of the k best matches, best first, ties by key; only `allowed`
        docids (a boolean mask over docids) when given."""
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            keep = np.argpartition(-scores[hits], k - 1)[:k]
            cut = scores[hits[keep]].min()
            hits = hits[scores[hits] >= cut]  # keep every tie at the cut
        order = np.lexsort((self.paper_ids[hits], -scores[hits]))[:k]
        ranked = [(-scores[hits[i]], int(self.paper_ids[hits[i]])) for i in order]
        return [(key, float(-neg)) for neg, key in ranked]
