"""Bring the vectors and the FAISS index up to date with the papers in the store.

Only papers that are new or whose title/abstract changed are embedded (keyed by paper,
content hash and model); the index is rebuilt only when the set it should hold changed.
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
from index.faiss_index import build_index, fingerprint, load_index, read_manifest, save_index
from index.vectors import VectorStore

CHUNK = 2048  # papers per stored shard: a crash loses at most one chunk of work


class DocumentEncoder(Protocol):
    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class IndexReport:
    embedded: int
    reused: int
    indexed: int
    rebuilt: bool
    seconds: float


def update_index(
    inputs: Sequence[tuple[int, str, str, str]],
    embedder: Embedder,
    vectors: VectorStore,
    index_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    encoder: DocumentEncoder | None = None,
) -> IndexReport:
    """Embed what is missing from `vectors`, then (re)build the index at `index_dir`.

    `inputs` are (paper key, content hash, title, abstract) of every paper that belongs in
    the index (Store.embedding_inputs()). `vectors` is the store of the embedder's vector
    set (VectorStore(root, embedder.vector_set)). `encoder` embeds the documents instead
    of `embedder` (e.g. shards on a Dask cluster, flows.distributed); it must give the
    vectors `embedder` would, and its `chunk_size` (if any) is how many papers it gets per
    call, each call's vectors stored as one shard.
    """
    encoder = encoder or embedder
    chunk_size = int(getattr(encoder, "chunk_size", CHUNK))
    start = time.perf_counter()
    keys, hashes, _ = vectors.load()
    stored = dict(zip(keys.tolist(), hashes.tolist(), strict=True))
    todo = [row for row in inputs if stored.get(row[0]) != row[1].encode()]
    for done in range(0, len(todo), chunk_size):
        chunk = todo[done : done + chunk_size]
        vecs = encoder.encode_documents([document_text(t, a) for _, _, t, a in chunk])
        vectors.append(np.array([r[0] for r in chunk], np.int64), [r[1] for r in chunk], vecs)
        if progress:
            progress(done + len(chunk), len(todo))

    want_keys = np.array([r[0] for r in inputs], np.int64)
    want_hashes = np.array([r[1] for r in inputs], "S16")
    wanted = fingerprint(vectors.model, want_keys, want_hashes)
    manifest = read_manifest(index_dir)
    if manifest and manifest.get("fingerprint") == wanted and _loadable(index_dir, embedder, vectors):
        return IndexReport(len(todo), len(inputs) - len(todo),
                           len(inputs), False, time.perf_counter() - start)

    keys, hashes, vecs = vectors.load()
    position = {k: i for i, k in enumerate(keys.tolist())}
    rows = np.array([position[k] for k in want_keys.tolist()], np.int64)
    dim = vecs.shape[1] if vecs.ndim == 2 and vecs.shape[1] else embedder.dimension
    chosen = vecs[rows] if len(rows) else np.zeros((0, dim), np.float16)
    index = build_index(want_keys, chosen.astype(np.float32))
    save_index(index, index_dir, {"model": embedder.model_name, "vector_set": vectors.model,
                                  "fingerprint": wanted})
    return IndexReport(len(todo), len(inputs) - len(todo), len(inputs), True,
                       time.perf_counter() - start)


def _loadable(index_dir: Path, embedder: Embedder, vectors: VectorStore) -> bool:
    try:
        load_index(index_dir, embedder.model_name, vectors.model)
    except (IndexMissingError, IndexMismatchError):
        return False
    return True
