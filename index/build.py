"""Bring the vectors and the FAISS index up to date with the papers in the store.

Only papers that are new or whose title/abstract changed are embedded (keyed by paper,
content hash and vector set). The index is then updated in place: changed and removed
papers (withdrawn ones leave `Store.embedding_inputs`) are taken out, new and changed ones
added. It is built afresh instead when asked (`rebuild`), when there is no loadable
index of this vector set, when its kind should change with the size (exact → IVF), when
an IVF index has grown past REBUILD_GROWTH times what it was trained on, or when more
than half of it would change. Either way the result holds exactly the vectors stored
for `inputs`, so an update and a rebuild answer alike (for the exact index, identically).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.errors import IndexMismatchError, IndexMissingError
from index.embed import Embedder, document_text
from index.faiss_index import (
    FLAT_MAX,
    HASH_DTYPE,
    REBUILD_GROWTH,
    Built,
    build_index,
    fingerprint,
    index_kind,
    load_ids,
    load_index,
    read_manifest,
    save_index,
)
from index.vectors import VectorStore

CHUNK = 2048  # papers per stored shard: a crash loses at most one shard of work


class DocumentEncoder(Protocol):
    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class IndexReport:
    embedded: int
    reused: int
    indexed: int
    added: int
    removed: int
    rebuilt: bool  # built afresh from the stored vectors
    written: bool  # a new index generation was written (rebuilt, or updated in place)
    index_type: str
    recall_at_10: float
    seconds: float


def update_index(
    inputs: Sequence[tuple[int, str, str, str]],
    embedder: Embedder,
    vectors: VectorStore,
    index_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    encoder: DocumentEncoder | None = None,
    rebuild: bool = False,
    flat_max: int = FLAT_MAX,
    shard_size: int = CHUNK,
) -> IndexReport:
    """Embed what is missing from `vectors`, then update (or build) the index at `index_dir`.

    `inputs` are (paper key, content hash, title, abstract) of every paper that belongs in
    the index (Store.embedding_inputs()). `vectors` is the store of the embedder's vector
    set (VectorStore(root, embedder.vector_set)). `encoder` embeds the documents instead
    of `embedder` (e.g. shards on a Dask cluster, flows.distributed); it must give the
    vectors `embedder` would, and its `chunk_size` (if any) is how many papers it gets per
    call. Each call's vectors are stored as one shard before the next call.
    """
    start = time.perf_counter()
    embedded = embed_missing(inputs, encoder or embedder, vectors, progress, shard_size)

    want_keys = np.array([r[0] for r in inputs], np.int64)
    want_hashes = np.array([r[1] for r in inputs], HASH_DTYPE)
    wanted = fingerprint(vectors.model, want_keys, want_hashes)
    manifest = {"model": embedder.model_name, "vector_set": vectors.model, "fingerprint": wanted}

    def report(added: int, removed: int, rebuilt: bool, written: bool, info: dict) -> IndexReport:
        return IndexReport(
            embedded, len(inputs) - embedded, len(inputs), added, removed, rebuilt, written,
            info.get("index_type", ""), float(info.get("recall_at_10", 1.0)),
            time.perf_counter() - start,
        )

    current = None if rebuild else _current(index_dir, embedder, vectors)
    if current is not None and current[1].get("fingerprint") == wanted:
        return report(0, 0, False, False, current[1])

    all_keys, _, all_vecs = vectors.load()
    position = {k: i for i, k in enumerate(all_keys.tolist())}

    def vectors_of(keys: np.ndarray) -> np.ndarray:
        rows = np.array([position[k] for k in keys.tolist()], np.int64)
        dim = all_vecs.shape[1] if all_vecs.ndim == 2 and all_vecs.shape[1] else embedder.dimension
        return all_vecs[rows].astype(np.float32) if len(rows) else np.zeros((0, dim), np.float32)

    if current is not None:
        index, old, old_keys, old_hashes = current
        had = dict(zip(old_keys.tolist(), old_hashes.tolist(), strict=True))
        want = dict(zip(want_keys.tolist(), want_hashes.tolist(), strict=True))
        remove = np.array([k for k, h in had.items() if want.get(k) != h], np.int64)
        add = np.array([k for k, h in want.items() if had.get(k) != h], np.int64)
        if _can_update(old, len(inputs), len(remove) + len(add), flat_max):
            if len(remove):
                index.remove_ids(remove)
            if len(add):
                index.add_with_ids(vectors_of(add), add)
            info = {k: old[k] for k in ("index_type", "kind", "nlist", "nprobe", "recall_at_10",
                                        "recall_sample", "trained_on", "built_at") if k in old}
            save_index(Built(index, info), index_dir, want_keys, want_hashes, manifest)
            return report(len(add), len(remove), False, True, info)

    built = build_index(want_keys, vectors_of(want_keys), index_kind(len(inputs), flat_max))
    save_index(built, index_dir, want_keys, want_hashes, manifest)
    return report(len(inputs), 0, True, True, built.info)


def embed_missing(
    inputs: Sequence[tuple[int, str, str, str]],
    encoder: DocumentEncoder,
    vectors: VectorStore,
    progress: Callable[[int, int], None] | None = None,
    shard_size: int = CHUNK,
) -> int:
    """Embed and store the inputs that have no stored vector of their current text; how many.

    The first half of `update_index`, callable on its own (the daily flow's embed step).
    Each call of `encoder.encode_documents` gets `encoder.chunk_size` papers if it has
    one, else `shard_size`, and its vectors are stored as one shard before the next call,
    so a killed run keeps every finished shard. `progress(done, total)` after each.
    """
    chunk_size = int(getattr(encoder, "chunk_size", shard_size))
    stored_keys, stored_hashes, _ = vectors.load()
    stored = dict(zip(stored_keys.tolist(), stored_hashes.tolist(), strict=True))
    todo = [row for row in inputs if stored.get(row[0]) != row[1].encode()]
    for done in range(0, len(todo), chunk_size):
        chunk = todo[done : done + chunk_size]
        vecs = encoder.encode_documents([document_text(t, a) for _, _, t, a in chunk])
        vectors.append(np.array([r[0] for r in chunk], np.int64), [r[1] for r in chunk], vecs)
        if progress:
            progress(done + len(chunk), len(todo))
    return len(todo)


def _current(
    index_dir: Path, embedder: Embedder, vectors: VectorStore
) -> tuple[object, dict, np.ndarray, np.ndarray] | None:
    """The index at `index_dir` with its manifest and ids, if it is whole and of this set."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return None
    try:
        index, manifest = load_index(index_dir, embedder.model_name, vectors.model)
        keys, hashes = load_ids(index_dir, manifest)
    except (IndexMissingError, IndexMismatchError):
        return None
    return index, manifest, keys, hashes


def _can_update(manifest: dict, count: int, changes: int, flat_max: int) -> bool:
    """Whether an in-place update keeps the index what a rebuild would make of it."""
    if manifest.get("kind") != index_kind(count, flat_max):
        return False
    if manifest["kind"] == "ivf" and count > REBUILD_GROWTH * manifest.get("trained_on", 0):
        return False
    return changes <= max(1, count) // 2
