"""Topics: papers clustered by their embeddings, in two levels, with ids that survive refits.

Fine topics are spherical k-means clusters of the normalised title+abstract vectors
(`faiss.Kmeans`, fixed seed, so a fit is reproducible); broad topics cluster the fine
centroids (weighted by size), so every fine topic has one broad parent. Sizes follow the
corpus: about PAPERS_PER_TOPIC papers per fine topic (240 for 72k papers, 333 for 100k)
and eight fine topics per broad one, at most 400 and 40.

Ids are stable. New papers are assigned to the nearest fine centroid (`assign`). A refit
(`refit`) starts k-means from the current topics' centroids, recomputed from their papers,
plus k-means++ seeds where those fit worst for the extra topics a grown corpus gets; new
clusters are then matched to old topics one-to-one by centroid cosine (Hungarian), and a
match of at least MATCH_MIN keeps the old id. Unmatched clusters get new ids, unmatched
old topics retire. The data (ids, centroids, sizes) is plain numpy; `index.topic_update`
stores it.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
from scipy.optimize import linear_sum_assignment

SEED = 20260301
NITER = 20  # Lloyd iterations of a fit from scratch
REFIT_NITER = 10  # a refit starts from converged topics: fewer iterations, less drift
PAPERS_PER_TOPIC = 300
FINE_MAX, BROAD_MAX = 400, 40
FINE_PER_BROAD = 8
MIN_PAPERS = 20  # fewer papers than this: no topics
MATCH_MIN = 0.8  # centroid cosine that carries a topic id over a refit
STICKY = 0.03  # cosine a paper may lose at a refit to stay in its topic
SEED_SAMPLE_PER_TOPIC = 100  # k-means++ seeds are drawn from at most this many papers per topic


def fine_k(n: int) -> int:
    """How many fine topics for `n` papers: n / PAPERS_PER_TOPIC, within [2, FINE_MAX]."""
    return int(min(max(2, round(n / PAPERS_PER_TOPIC)), FINE_MAX, max(n, 1)))


def broad_k(k_fine: int) -> int:
    """How many broad topics over `k_fine` fine ones: k_fine / FINE_PER_BROAD, within [1, BROAD_MAX]."""
    return int(min(max(1, round(k_fine / FINE_PER_BROAD)), BROAD_MAX, k_fine))


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def kmeans(x: np.ndarray, k: int, *, init: np.ndarray | None = None,
           weights: np.ndarray | None = None, seed: int = SEED, niter: int = NITER) -> np.ndarray:
    """`k` unit centroids of the unit rows of `x` by spherical k-means (Lloyd, all points).

    Seeded by greedy k-means++ (`plusplus`), which starts from `init` when given: a refit
    keeps the current topics as its first seeds and adds the others where they fit worst.
    """
    n, d = x.shape
    x = np.ascontiguousarray(x, np.float32)
    start = plusplus(x, k, seed, given=init, weights=weights)
    km = faiss.Kmeans(d, k, niter=niter, spherical=True, seed=seed, verbose=False,
                      max_points_per_centroid=max(256, n // k + 1), min_points_per_centroid=1)
    km.train(x, weights=None if weights is None else np.ascontiguousarray(weights, np.float32),
             init_centroids=start)
    return normalise(np.asarray(km.centroids))


def plusplus(x: np.ndarray, k: int, seed: int, given: np.ndarray | None = None,
             weights: np.ndarray | None = None) -> np.ndarray:
    """k seeds for k-means: `given` (at most k), then greedy k-means++ picks among rows of `x`.

    Each new seed is the best (lowest remaining potential, sum of weight x cosine distance
    to the nearest seed) of 2 + log k candidates drawn with probability proportional to
    that distance, as in scikit-learn. Plain k-means++ or faiss's random start often puts
    two seeds in one cluster and Lloyd iterations never separate them. Over SEED_SAMPLE_PER_TOPIC
    x k rows, the seeds are drawn from a sample of that size.
    """
    rng = np.random.default_rng(seed)
    n = len(x)
    seeds = [] if given is None else [normalise(given[:k])]
    have = 0 if given is None else len(seeds[0])
    if have >= k:
        return seeds[0]
    w = np.ones(n, np.float64) if weights is None else np.asarray(weights, np.float64)
    if n > SEED_SAMPLE_PER_TOPIC * k:
        pick = np.sort(rng.choice(n, SEED_SAMPLE_PER_TOPIC * k, replace=False))
        x, w = x[pick], w[pick]
        n = len(x)
    if have:
        closest = w * np.maximum(0.0, 1.0 - (x @ seeds[0].T).max(axis=1))
    else:
        first = int(rng.choice(n, p=w / w.sum()))
        seeds.append(x[first][None])
        closest = w * np.maximum(0.0, 1.0 - x @ x[first])
        have = 1
    trials = 2 + int(np.log(k))
    chosen = []
    for _ in range(k - have):
        total = closest.sum()
        if total <= 0:  # every row is a seed already: repeat one (faiss splits it)
            chosen.append(x[int(rng.integers(n))])
            continue
        candidates = rng.choice(n, trials, p=closest / total)
        dist = w[:, None] * np.maximum(0.0, 1.0 - x @ x[candidates].T)
        options = np.minimum(closest[:, None], dist)
        best = int(np.argmin(options.sum(axis=0)))
        chosen.append(x[candidates[best]])
        closest = options[:, best]
    return normalise(np.vstack([*seeds, *(c[None] for c in chosen)]))


def nearest(x: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the nearest centroid, its cosine) for each row of `x`."""
    if not len(x):
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, np.float32))
    sims, idx = index.search(np.ascontiguousarray(x, np.float32), 1)
    return idx[:, 0].astype(np.int64), sims[:, 0]


def member_centroids(x: np.ndarray, members: np.ndarray, k: int) -> np.ndarray:
    """Normalised mean of the rows of `x` in each of `k` groups (`members[i]` in 0..k-1, or -1)."""
    sums = np.zeros((k, x.shape[1]), np.float64)
    ok = members >= 0
    np.add.at(sums, members[ok], x[ok])
    return normalise(sums)


def match(old: np.ndarray, new: np.ndarray, min_sim: float = MATCH_MIN) -> np.ndarray:
    """For each new centroid, the index of the old one it continues, or -1.

    One-to-one, maximising the summed cosine (Hungarian), and only pairs of cosine >= min_sim.
    """
    found = np.full(len(new), -1, np.int64)
    if not len(old) or not len(new):
        return found
    sims = new @ old.T
    rows, cols = linear_sum_assignment(-sims)
    keep = sims[rows, cols] >= min_sim
    found[rows[keep]] = cols[keep]
    return found


@dataclass(frozen=True)
class Level:
    """The topics of one level: their ids and unit centroids, row for row."""

    ids: np.ndarray
    centroids: np.ndarray


@dataclass(frozen=True)
class Topics:
    """A topic model and the assignment of the papers it was fitted on (rows of `x`).

    `parent[j]` is the row in `broad` of fine topic j; `fine_of[i]` the row in `fine` of paper i.
    """

    fine: Level
    broad: Level
    parent: np.ndarray
    fine_of: np.ndarray
    fine_sim: np.ndarray
    broad_sim: np.ndarray
    new_ids: frozenset[int] = frozenset()  # ids created by this fit
    retired_ids: frozenset[int] = frozenset()  # old ids no cluster continues

    def topic_of(self) -> np.ndarray:
        """Fine topic id of each paper."""
        return self.fine.ids[self.fine_of]

    def broad_of(self) -> np.ndarray:
        """Broad topic id of each paper (its fine topic's parent)."""
        return self.broad.ids[self.parent[self.fine_of]]


def fit(x: np.ndarray, first_id: int = 1, seed: int = SEED) -> Topics:
    """Fit both levels from scratch on the unit rows of `x`; ids count up from `first_id`."""
    x = normalise(x)
    k = fine_k(len(x))
    centroids = kmeans(x, k, seed=seed)
    fine_of, fine_sim = nearest(x, centroids)
    alive = np.unique(fine_of)  # k-means can leave a cluster empty: no topic without papers
    ids = np.arange(first_id, first_id + k)[alive]
    fine_of = np.searchsorted(alive, fine_of)
    return _finish(x, centroids[alive], ids, fine_of, fine_sim, first_id + k, seed,
                   frozenset(ids.tolist()), frozenset())


def refit(x: np.ndarray, old_fine: np.ndarray, old_broad: np.ndarray, next_id: int,
          seed: int = SEED, sticky: float = STICKY) -> Topics:
    """Fit again, keeping ids: `old_fine[i]` / `old_broad[i]` are paper i's current topic ids
    (-1 where it has none, e.g. a paper not assigned yet); new ids count up from `next_id`.

    A paper stays in its topic while that topic continues and fits it within `sticky` (cosine)
    of the best one: papers on a border do not flip sides from one refit to the next.
    Continuing fine topics keep their broad parent; new ones join the nearest broad topic
    (broad topics are regrouped by a fit from scratch only).
    """
    x = normalise(x)
    fine_ids, fine_rows = np.unique(old_fine[old_fine >= 0], return_inverse=True)
    members = np.full(len(x), -1, np.int64)
    members[old_fine >= 0] = fine_rows
    old_centroids = member_centroids(x, members, len(fine_ids))
    # The current topics are the first seeds; a grown corpus gets its extra topics seeded
    # by k-means++ where those fit worst.
    k = max(fine_k(len(x)), len(fine_ids))
    centroids = kmeans(x, k, init=old_centroids, seed=seed, niter=REFIT_NITER)
    ids, next_id = _ids(match(old_centroids, centroids), fine_ids, next_id)
    fine_of, fine_sim = nearest(x, centroids)
    row_of = {int(t): j for j, t in enumerate(ids.tolist())}
    old_rows = np.array([row_of.get(int(t), -1) for t in old_fine.tolist()], np.int64)
    can = np.flatnonzero(old_rows >= 0)
    stay_sim = np.einsum("ij,ij->i", x[can], centroids[old_rows[can]])
    stay = stay_sim >= fine_sim[can] - sticky
    fine_of[can[stay]] = old_rows[can[stay]]
    fine_sim[can[stay]] = stay_sim[stay]
    alive = np.unique(fine_of)  # no topic without papers
    centroids, ids = centroids[alive], ids[alive]
    fine_of = np.searchsorted(alive, fine_of)

    # Broad: a continuing fine topic keeps its parent (all its old papers had the same one).
    parent_of_old = {int(f): int(b) for f, b in zip(old_fine.tolist(), old_broad.tolist(),
                                                     strict=True) if f >= 0 and b >= 0}
    parent_ids = np.array([parent_of_old.get(int(t), -1) for t in ids.tolist()], np.int64)
    kept_parents = np.unique(parent_ids[parent_ids >= 0])
    if not len(kept_parents):  # nothing to continue: group the fine topics afresh
        return _finish(x, centroids, ids, fine_of, fine_sim, next_id, seed,
                       frozenset(ids.tolist()) - frozenset(fine_ids.tolist()),
                       frozenset(fine_ids.tolist()) - frozenset(ids.tolist()))
    known = np.flatnonzero(parent_ids >= 0)
    broad_rows_known = np.searchsorted(kept_parents, parent_ids[known])
    paper_broad = np.full(len(x), -1, np.int64)
    in_known = np.isin(fine_of, known)
    row_in_known = {int(j): int(b) for j, b in zip(known.tolist(), broad_rows_known.tolist(),
                                                   strict=True)}
    paper_broad[in_known] = [row_in_known[int(j)] for j in fine_of[in_known].tolist()]
    broad = member_centroids(x, paper_broad, len(kept_parents))
    parent = np.empty(len(ids), np.int64)
    parent[known] = broad_rows_known
    fresh = np.flatnonzero(parent_ids < 0)
    if len(fresh):
        parent[fresh], _ = nearest(centroids[fresh], broad)
    broad_sim = np.einsum("ij,ij->i", x, broad[parent[fine_of]]).astype(np.float32)
    old_ids = set(fine_ids.tolist()) | set(old_broad[old_broad >= 0].tolist())
    new_ids = set(ids.tolist()) | set(kept_parents.tolist())
    return Topics(Level(ids, centroids), Level(kept_parents.astype(np.int64), broad), parent,
                  fine_of, fine_sim, broad_sim, frozenset(new_ids - old_ids),
                  frozenset(old_ids - new_ids))


def _ids(matched: np.ndarray, old_ids: np.ndarray, next_id: int) -> tuple[np.ndarray, int]:
    """Ids for new clusters: the matched old topic's, else the next free one."""
    ids = np.empty(len(matched), np.int64)
    for i, m in enumerate(matched.tolist()):
        if m >= 0:
            ids[i] = old_ids[m]
        else:
            ids[i], next_id = next_id, next_id + 1
    return ids, next_id


def _finish(x: np.ndarray, centroids: np.ndarray, ids: np.ndarray, fine_of: np.ndarray,
            fine_sim: np.ndarray, next_id: int, seed: int, new: frozenset[int],
            retired: frozenset[int]) -> Topics:
    """Group the fine topics into broad ones: weighted k-means of their centroids."""
    sizes = np.bincount(fine_of, minlength=len(centroids)).astype(np.float32)
    broad = kmeans(centroids, broad_k(len(centroids)), weights=sizes, seed=seed)
    parent, _ = nearest(centroids, broad)
    used = np.unique(parent)
    broad, parent = broad[used], np.searchsorted(used, parent)
    broad_ids = np.arange(next_id, next_id + len(broad), dtype=np.int64)
    broad_sim = np.einsum("ij,ij->i", x, broad[parent[fine_of]]).astype(np.float32)
    return Topics(Level(np.asarray(ids, np.int64), centroids), Level(broad_ids, broad), parent,
                  fine_of, fine_sim, broad_sim, new | frozenset(broad_ids.tolist()), retired)


def assign(x: np.ndarray, fine: Level, broad: Level, parent_ids: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Assign papers to existing topics without moving them: (fine id, cosine, broad id, cosine)
    per row of `x`. `parent_ids[j]` is the broad id of fine topic j."""
    x = normalise(x)
    rows, sims = nearest(x, fine.centroids)
    broad_ids = parent_ids[rows]
    position = {int(t): i for i, t in enumerate(broad.ids.tolist())}
    broad_rows = np.array([position[int(b)] for b in broad_ids.tolist()], np.int64)
    broad_sims = np.einsum("ij,ij->i", x, broad.centroids[broad_rows]) if len(x) else sims
    return fine.ids[rows], sims, broad_ids, broad_sims.astype(np.float32)


def central(sims: np.ndarray, groups: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """For each group, the row numbers of its `n` members of highest similarity, best first."""
    order = np.lexsort((-sims, groups))
    found: dict[int, np.ndarray] = {}
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    for start in starts.tolist():
        g = int(sorted_groups[start])
        block = order[start:start + n]
        found[g] = block[groups[block] == g]
    return found
