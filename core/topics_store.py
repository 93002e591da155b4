"""Topic tables of the store: the topics, each paper's topics, label history and fits.

Schema (created by migration 4 in core/store.py, with the views of core/views.py):

- `topics`: one row per topic ever created, fine and broad; a retired topic keeps its row.
- `paper_topics`: two rows per non-withdrawn paper (its fine and its broad topic).
- `topic_label_history`: every label a topic was given, with the fit that gave it.
- `topic_fits`: every fit and refit, with how many papers kept their topic.

The tables carry no primary-key constraints (DuckDB checks them eagerly, so a transaction
that deletes and re-inserts a key fails); this module keeps the keys unique instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from core.store import Store

TOPIC_TABLES = (
    """
    CREATE TABLE topic_fits (
        fit_id         INTEGER NOT NULL,       -- key
        fitted_at      TIMESTAMP NOT NULL,
        kind           VARCHAR NOT NULL,       -- fit (from scratch) or refit (ids kept)
        vector_set     VARCHAR NOT NULL,       -- embeddings it was fitted on
        papers         INTEGER NOT NULL,
        fine_topics    INTEGER NOT NULL,
        broad_topics   INTEGER NOT NULL,
        kept_share     DOUBLE,                 -- refit: share of assigned papers keeping their fine topic id
        new_topics     INTEGER NOT NULL,
        retired_topics INTEGER NOT NULL,
        labels_changed INTEGER NOT NULL,
        seconds        DOUBLE NOT NULL
    )
    """,
    """
    CREATE TABLE topics (
        topic_id       BIGINT NOT NULL,        -- key; never reused, kept across refits
        level          VARCHAR NOT NULL,       -- fine or broad
        parent_id      BIGINT,                 -- the broad topic of a fine one; NULL for broad
        label          VARCHAR NOT NULL,       -- its first three top terms
        top_terms      VARCHAR[] NOT NULL,     -- distinctive terms (class-based TF-IDF), best first
        central_papers VARCHAR[] NOT NULL,     -- arxiv ids closest to the centroid, best first
        size           INTEGER NOT NULL,       -- papers in it now (withdrawn excluded)
        born           DATE NOT NULL,          -- 5th percentile of its papers' v1 days when created
        created_at     TIMESTAMP NOT NULL,
        refit_at       TIMESTAMP NOT NULL,     -- last fit that kept it
        retired_at     TIMESTAMP,              -- a refit found no cluster continuing it
        fit_id         INTEGER NOT NULL,       -- the fit that created it
        vector_set     VARCHAR NOT NULL,
        centroid       FLOAT[] NOT NULL        -- unit vector in the embedding space
    )
    """,
    """
    CREATE TABLE paper_topics (
        paper_id     BIGINT NOT NULL,          -- key with level
        arxiv_id     VARCHAR NOT NULL,
        level        VARCHAR NOT NULL,         -- fine or broad
        topic_id     BIGINT NOT NULL,
        similarity   FLOAT NOT NULL,           -- cosine of the paper to the topic's centroid
        content_hash VARCHAR NOT NULL,         -- the title + abstract it was assigned from
        assigned_at  TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE topic_label_history (
        topic_id   BIGINT NOT NULL,
        fit_id     INTEGER NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        old_label  VARCHAR,                    -- NULL: the topic's first label
        new_label  VARCHAR NOT NULL,
        top_terms  VARCHAR[] NOT NULL
    )
    """,
)

_TOPIC_SCHEMA = pa.schema([
    ("topic_id", pa.int64()), ("level", pa.string()), ("parent_id", pa.int64()),
    ("label", pa.string()), ("top_terms", pa.list_(pa.string())),
    ("central_papers", pa.list_(pa.string())), ("size", pa.int32()), ("born", pa.date32()),
    ("created_at", pa.timestamp("us")), ("refit_at", pa.timestamp("us")),
    ("retired_at", pa.timestamp("us")), ("fit_id", pa.int32()), ("vector_set", pa.string()),
    ("centroid", pa.list_(pa.float32())),
])
_ASSIGNMENT_SCHEMA = pa.schema([
    ("paper_id", pa.int64()), ("arxiv_id", pa.string()), ("level", pa.string()),
    ("topic_id", pa.int64()), ("similarity", pa.float32()), ("content_hash", pa.string()),
    ("assigned_at", pa.timestamp("us")),
])


@dataclass(frozen=True)
class Assignments:
    """Topic rows for papers: aligned arrays, one entry per paper and level."""

    paper_ids: np.ndarray
    arxiv_ids: list[str]
    levels: list[str]
    topic_ids: np.ndarray
    similarities: np.ndarray
    content_hashes: list[str]

    def table(self, now: datetime) -> pa.Table:
        return pa.table([
            pa.array(self.paper_ids, pa.int64()), pa.array(self.arxiv_ids, pa.string()),
            pa.array(self.levels, pa.string()), pa.array(self.topic_ids, pa.int64()),
            pa.array(self.similarities, pa.float32()), pa.array(self.content_hashes, pa.string()),
            pa.array([now] * len(self.paper_ids), pa.timestamp("us")),
        ], schema=_ASSIGNMENT_SCHEMA)


class TopicStore:
    """Reads and writes the topic tables of one open (writable) Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con

    def last_fit(self) -> dict[str, Any] | None:
        """The newest row of topic_fits as a dict, or None before the first fit."""
        cursor = self.con.execute("SELECT * FROM topic_fits ORDER BY fit_id DESC LIMIT 1")
        row = cursor.fetchone()
        return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None

    def topics(self, live_only: bool = True) -> list[dict[str, Any]]:
        """Topic rows as dicts (centroids as float32 arrays), by level then id."""
        where = "WHERE retired_at IS NULL" if live_only else ""
        cursor = self.con.execute(f"SELECT * FROM topics {where} ORDER BY level, topic_id")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        for row in rows:
            row["centroid"] = np.asarray(row["centroid"], np.float32)
        return rows

    def next_topic_id(self) -> int:
        row = self.con.execute("SELECT coalesce(max(topic_id), 0) + 1 FROM topics").fetchone()
        return int(row[0]) if row else 1

    def assignments(self) -> dict[int, tuple[int, int, str]]:
        """paper_id -> (fine topic id, broad topic id, content hash it was assigned from)."""
        rows = self.con.execute(
            "SELECT paper_id, max(topic_id) FILTER (WHERE level = 'fine'), "
            "max(topic_id) FILTER (WHERE level = 'broad'), any_value(content_hash) "
            "FROM paper_topics GROUP BY paper_id"
        ).fetchall()
        return {int(p): (int(f), int(b), h) for p, f, b, h in rows}

    def paper_meta(self, paper_ids: np.ndarray) -> tuple[list[str], np.ndarray]:
        """(arxiv ids, v1 days as datetime64[D]) of these papers, in the given order."""
        table = pa.table({"paper_id": pa.array(paper_ids, pa.int64()),
                          "pos": pa.array(np.arange(len(paper_ids)), pa.int64())})
        self.con.register("wanted_topic_papers", table)
        try:
            rows = self.con.execute(
                "SELECT p.arxiv_id, p.published::DATE FROM wanted_topic_papers w "
                "JOIN papers p USING (paper_id) ORDER BY w.pos"
            ).fetchall()
        finally:
            self.con.unregister("wanted_topic_papers")
        if len(rows) != len(paper_ids):
            raise ValueError(f"{len(paper_ids) - len(rows)} of the papers are not in the store")
        return [r[0] for r in rows], np.array([r[1] for r in rows], "datetime64[D]")

    def write_fit(self, fit: dict[str, Any], topics: list[dict[str, Any]],
                  assignments: Assignments, label_changes: list[dict[str, Any]]) -> None:
        """Record a fit or refit in one transaction: its row in topic_fits, every topic row
        (`topics` is the whole table afterwards, retired topics included), all paper
        assignments (replacing the previous ones) and the label changes."""
        now = fit["fitted_at"]
        table = pa.Table.from_pylist([{**t, "centroid": [float(v) for v in t["centroid"]]}
                                      for t in topics], schema=_TOPIC_SCHEMA)
        changes = pa.Table.from_pylist(label_changes, schema=pa.schema([
            ("topic_id", pa.int64()), ("fit_id", pa.int32()), ("changed_at", pa.timestamp("us")),
            ("old_label", pa.string()), ("new_label", pa.string()),
            ("top_terms", pa.list_(pa.string()))]))
        con = self.con
        with self.store.transaction():
            con.execute("INSERT INTO topic_fits BY NAME SELECT * FROM (SELECT "
                        + ", ".join(f"? AS {k}" for k in fit) + ")", list(fit.values()))
            con.execute("DELETE FROM topics")
            con.register("incoming_topics", table)
            con.register("incoming_assignments", assignments.table(now))
            con.register("incoming_labels", changes)
            try:
                con.execute("INSERT INTO topics BY NAME SELECT * FROM incoming_topics")
                con.execute("DELETE FROM paper_topics")
                con.execute("INSERT INTO paper_topics BY NAME SELECT * FROM incoming_assignments")
                con.execute("INSERT INTO topic_label_history BY NAME SELECT * FROM incoming_labels")
            finally:
                for name in ("incoming_topics", "incoming_assignments", "incoming_labels"):
                    con.unregister(name)

    def add_assignments(self, assignments: Assignments, drop: list[int], now: datetime) -> None:
        """Assign papers incrementally: drop the rows of `drop` papers (withdrawn, removed or
        changed) and of the assigned ones, add the new rows, refresh topic sizes."""
        con = self.con
        gone = sorted(set(drop) | set(assignments.paper_ids.tolist()))
        with self.store.transaction():
            if gone:
                con.execute("DELETE FROM paper_topics WHERE paper_id IN (SELECT unnest(?::BIGINT[]))",
                            [gone])
            if len(assignments.paper_ids):
                con.register("incoming_assignments", assignments.table(now))
                try:
                    con.execute("INSERT INTO paper_topics BY NAME SELECT * FROM incoming_assignments")
                finally:
                    con.unregister("incoming_assignments")
            con.execute(
                "UPDATE topics SET size = coalesce(c.n, 0) FROM topics t LEFT JOIN "
                "(SELECT topic_id, count(*)::INTEGER AS n FROM paper_topics GROUP BY topic_id) c "
                "USING (topic_id) WHERE topics.topic_id = t.topic_id AND t.size <> coalesce(c.n, 0)"
            )
