"""Keep the topics of the store up to date with its papers (the topics step of `paperradar index`).

Each call does one of three things, decided by `plan`:
- fit: no topics yet; cluster every paper from scratch.
- refit: asked for, or the corpus grew by REFIT_GROWTH since the last fit, or the embeddings
  are of another vector set; cluster again keeping topic ids (index.topics.refit), relabel,
  and record label changes.
- assign: otherwise; new and changed papers go to their nearest topic, withdrawn and removed
  ones leave, and the topics themselves stay as they are.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from core.topics_store import Assignments, TopicStore
from index import topics as tp
from index.embed import document_text
from index.topic_labels import label_of, topic_terms_levels
from index.vectors import VectorStore

REFIT_GROWTH = 1.2  # refit when the corpus has grown by 20% since the last fit
CENTRAL_PAPERS = 5
BORN_QUANTILE = 5  # a new topic is born on this percentile of its papers' v1 days
LABEL_PAPERS = 150  # a fine topic is labelled from this many of its most central papers

Action = Literal["fit", "refit", "assign", "none"]


@dataclass(frozen=True)
class TopicReport:
    action: Action
    papers: int  # papers with topics after the call
    assigned: int  # papers given a topic by this call
    fine: int
    broad: int
    kept_share: float | None = None  # refit: share of assigned papers keeping their fine topic
    new_topics: int = 0
    retired_topics: int = 0
    labels_changed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        """One line for the command's output."""
        if self.action == "none":
            return f"topics: none ({self.papers} papers, at least {tp.MIN_PAPERS} needed)"
        head = f"topics: {self.fine} fine / {self.broad} broad over {self.papers} papers"
        if self.action == "assign":
            return f"{head}; {self.assigned} new or changed papers assigned; {self.seconds:.1f}s"
        if self.action == "fit":
            return f"{head}, fitted from scratch; {self.seconds:.1f}s"
        kept = f"{self.kept_share:.1%}" if self.kept_share is not None else "n/a"
        return (f"{head}, refitted: {kept} of papers kept their topic, {self.new_topics} new and "
                f"{self.retired_topics} retired topics, {self.labels_changed} labels changed; "
                f"{self.seconds:.1f}s")


def plan(papers: int, last_fit: dict[str, Any] | None, has_topics: bool, vector_set: str,
         refit: bool, growth: float = REFIT_GROWTH) -> Action:
    """What `update_topics` does for a corpus of `papers` (see the module docstring)."""
    if papers < tp.MIN_PAPERS:
        return "none"
    if last_fit is None or not has_topics:
        return "fit"
    if refit or last_fit["vector_set"] != vector_set or papers >= growth * last_fit["papers"]:
        return "refit"
    return "assign"


def topic_vectors(inputs: Sequence[tuple[int, str, str, str]], vectors: VectorStore
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(row numbers into `inputs`, float32 vectors) of the inputs whose stored vector is of
    their current text (Store.embedding_inputs() rows; all of them after update_index)."""
    keys, hashes, vecs = vectors.load()
    position = {k: i for i, k in enumerate(keys.tolist())}
    rows, picks = [], []
    for i, (key, content_hash, _, _) in enumerate(inputs):
        j = position.get(key)
        if j is not None and hashes[j] == content_hash.encode():
            rows.append(i)
            picks.append(j)
    dim = vecs.shape[1] if vecs.ndim == 2 else 0
    return (np.array(rows, np.int64),
            vecs[np.array(picks, np.int64)].astype(np.float32) if picks else np.zeros((0, dim), np.float32))


def update_topics(db: TopicStore, inputs: Sequence[tuple[int, str, str, str]],
                  vectors: VectorStore, refit: bool = False, now: datetime | None = None,
                  growth: float = REFIT_GROWTH) -> TopicReport:
    """Fit, refit or assign (see `plan`) the topics of the papers in `inputs`, whose vectors
    are in `vectors`; writes the store through `db` and says what it did."""
    start = time.perf_counter()
    now = now or datetime.now(UTC).replace(tzinfo=None)
    rows, x = topic_vectors(inputs, vectors)
    keys = np.array([inputs[i][0] for i in rows.tolist()], np.int64)
    hashes = [inputs[i][1] for i in rows.tolist()]
    live = db.topics()
    action = plan(len(keys), db.last_fit(), bool(live), vectors.model, refit, growth)
    if action == "none":
        return TopicReport("none", len(keys), 0, 0, 0)
    if action == "assign":
        return _assign(db, keys, hashes, x, live, now, start)
    texts = [(inputs[i][2], inputs[i][3]) for i in rows.tolist()]
    return _fit(db, keys, hashes, x, texts, action, vectors.model, now, start)


def _assign(db: TopicStore, keys: np.ndarray, hashes: list[str], x: np.ndarray,
            live: list[dict[str, Any]], now: datetime, start: float) -> TopicReport:
    known = db.assignments()
    current = set(keys.tolist())
    drop = [k for k in known if k not in current]
    todo = np.array([i for i, (k, h) in enumerate(zip(keys.tolist(), hashes, strict=True))
                     if known.get(k, (0, 0, ""))[2] != h], np.int64)
    fine = [t for t in live if t["level"] == "fine"]
    broad = [t for t in live if t["level"] == "broad"]
    fine_level = tp.Level(np.array([t["topic_id"] for t in fine], np.int64),
                          np.stack([t["centroid"] for t in fine]))
    broad_level = tp.Level(np.array([t["topic_id"] for t in broad], np.int64),
                           np.stack([t["centroid"] for t in broad]))
    parents = np.array([t["parent_id"] for t in fine], np.int64)
    fine_ids, fine_sims, broad_ids, broad_sims = tp.assign(x[todo], fine_level, broad_level, parents)
    arxiv_ids, _ = db.paper_meta(keys[todo])
    db.add_assignments(_rows(keys[todo], arxiv_ids, [hashes[i] for i in todo.tolist()],
                             fine_ids, fine_sims, broad_ids, broad_sims), drop, now)
    return TopicReport("assign", len(keys), len(todo), len(fine), len(broad),
                       seconds=time.perf_counter() - start)


def _fit(db: TopicStore, keys: np.ndarray, hashes: list[str], x: np.ndarray,
         texts: list[tuple[str, str]],
         action: Action, vector_set: str, now: datetime, start: float) -> TopicReport:
    arxiv_ids, days = db.paper_meta(keys)
    previous = {t["topic_id"]: t for t in db.topics(live_only=False)}
    last = db.last_fit()
    fit_id = (last["fit_id"] + 1) if last else 1
    kept: float | None = None
    if action == "fit":
        model = tp.fit(x, first_id=db.next_topic_id())
    else:
        known = db.assignments()
        old_fine = np.array([known.get(k, (-1, -1, ""))[0] for k in keys.tolist()], np.int64)
        old_broad = np.array([known.get(k, (-1, -1, ""))[1] for k in keys.tolist()], np.int64)
        model = tp.refit(x, old_fine, old_broad, db.next_topic_id())
        had = old_fine >= 0
        kept = float((model.topic_of()[had] == old_fine[had]).mean()) if had.any() else None
    fine_ids, broad_ids = model.topic_of(), model.broad_of()
    broad_rows = model.parent[model.fine_of]
    # Labels from the LABEL_PAPERS most central papers of each fine topic (broad topics:
    # those of their fine topics): typical papers, and a cost bounded by the topic count.
    sample = np.sort(np.concatenate(list(tp.central(model.fine_sim, model.fine_of,
                                                    LABEL_PAPERS).values())))
    sample_texts = [document_text(*texts[i]) for i in sample.tolist()]
    topics: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    levels = (("fine", model.fine, model.fine_of, model.fine_sim),
              ("broad", model.broad, broad_rows, model.broad_sim))
    level_terms = topic_terms_levels(sample_texts, [(members[sample], len(lv.ids))
                                                    for _, lv, members, _ in levels])
    for (level, lv, members, sims), terms in zip(levels, level_terms, strict=True):
        best = tp.central(sims, members, CENTRAL_PAPERS)
        sizes = np.bincount(members, minlength=len(lv.ids))
        for j, topic_id in enumerate(lv.ids.tolist()):
            old = previous.pop(topic_id, None)
            label = label_of(terms[j])
            if old is None or old["label"] != label:
                changes.append({"topic_id": topic_id, "fit_id": fit_id, "changed_at": now,
                                "old_label": old["label"] if old else None, "new_label": label,
                                "top_terms": terms[j]})
            topics.append({
                "topic_id": topic_id, "level": level,
                "parent_id": int(model.broad.ids[model.parent[j]]) if level == "fine" else None,
                "label": label, "top_terms": terms[j],
                "central_papers": [arxiv_ids[i] for i in best.get(j, np.zeros(0, np.int64)).tolist()],
                "size": int(sizes[j]),
                "born": old["born"] if old else _born(days[members == j]),
                "created_at": old["created_at"] if old else now, "refit_at": now, "retired_at": None,
                "fit_id": old["fit_id"] if old else fit_id, "vector_set": vector_set,
                "centroid": lv.centroids[j],
            })
    for old in previous.values():  # retired now or before: kept for history, without papers
        topics.append({**old, "size": 0, "retired_at": old["retired_at"] or now})
    retired = sum(1 for t in topics if t["retired_at"] == now)
    relabelled = sum(1 for c in changes if c["old_label"] is not None)
    created = sum(1 for t in topics if t["fit_id"] == fit_id)
    seconds = time.perf_counter() - start
    fit = {"fit_id": fit_id, "fitted_at": now, "kind": action, "vector_set": vector_set,
           "papers": len(keys), "fine_topics": len(model.fine.ids),
           "broad_topics": len(model.broad.ids), "kept_share": kept, "new_topics": created,
           "retired_topics": retired, "labels_changed": relabelled, "seconds": round(seconds, 3)}
    db.write_fit(fit, topics, _rows(keys, arxiv_ids, hashes, fine_ids, model.fine_sim, broad_ids,
                                    model.broad_sim), changes)
    return TopicReport(action, len(keys), len(keys), len(model.fine.ids), len(model.broad.ids),
                       kept, created, retired, relabelled, seconds)


def _born(days: np.ndarray) -> Any:
    """The BORN_QUANTILE-th percentile of v1 days, as a date."""
    ordinals = days.astype("datetime64[D]").astype(np.int64)
    day = np.percentile(ordinals, BORN_QUANTILE, method="lower")
    return np.datetime64(int(day), "D").astype(object)


def _rows(keys: np.ndarray, arxiv_ids: list[str], hashes: list[str], fine_ids: np.ndarray,
          fine_sims: np.ndarray, broad_ids: np.ndarray, broad_sims: np.ndarray) -> Assignments:
    n = len(keys)
    return Assignments(
        paper_ids=np.concatenate([keys, keys]), arxiv_ids=list(arxiv_ids) * 2,
        levels=["fine"] * n + ["broad"] * n,
        topic_ids=np.concatenate([fine_ids, broad_ids]).astype(np.int64),
        similarities=np.concatenate([fine_sims, broad_sims]).astype(np.float32),
        content_hashes=list(hashes) * 2,
    )
