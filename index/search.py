"""Semantic search over a published snapshot: embed the query, search FAISS, join DuckDB.

One entry point (`Searcher.search`) for the CLI and the dashboard; the model, the index
and the read-only database are loaded once per Searcher.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

from core.arxiv_ids import abs_url
from core.errors import UserInputError
from core.publish import Snapshot
from core.store import Store
from index.embed import Embedder
from index.faiss_index import load_index

MAX_K = 1000
MAX_QUERY_CHARS = 2000


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


class Searcher:
    """Searches one snapshot. Build it once and reuse it: loading costs a second or two."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.index, self.manifest = load_index(
            snapshot.index_dir, embedder.model_name, embedder.vector_set
        )
        self.store = Store.open_read_only(snapshot.db_path)

    def close(self) -> None:
        self.store.close()

    def search(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """The k papers closest to the query by cosine similarity, best first."""
        vector = self.embedder.encode_query(clean_query(query))
        return self._nearest(vector, check_k(k))

    def _nearest(self, vector: np.ndarray, k: int) -> list[dict[str, Any]]:
        if self.index.ntotal == 0:
            return []
        # Over-fetch: papers withdrawn since the index was built are dropped below.
        fetch = min(self.index.ntotal, k + max(10, k // 4))
        scores, ids = self.index.search(vector.reshape(1, -1).astype(np.float32), fetch)
        hits = [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        rows = self.store.papers_by_key([i for _, i in hits])
        results = [
            _result(rows[i], score) for score, i in hits if i in rows and not rows[i]["withdrawn"]
        ]
        results.sort(key=lambda r: (-r["score"], r["arxiv_id"]))
        return results[:k]


def _result(row: dict[str, Any], score: float) -> dict[str, Any]:
    return {
        "arxiv_id": row["arxiv_id"],
        "title": row["title"],
        "authors": list(row["authors"]),
        "published": row["published"].date().isoformat(),
        "primary_category": row["primary_category"],
        "categories": list(row["categories"]),
        "score": round(score, 4),
        "venue": row["venue"],
        "code_url": row["code_url"],
        "url": abs_url(row["arxiv_id"]),
    }
