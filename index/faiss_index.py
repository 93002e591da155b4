"""The FAISS index: inner product over normalised vectors, ids = DuckDB paper keys, with a manifest.

The manifest (model, dimension, count, fingerprint of the indexed keys and hashes, build
time) is written beside the index and checked on load, so an index never silently
answers for another model or another set of papers.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from core.errors import IndexMismatchError, IndexMissingError

INDEX_FILE = "faiss.index"
MANIFEST_FILE = "manifest.json"


def fingerprint(model: str, keys: np.ndarray, hashes: np.ndarray) -> str:
    """Identifies exactly which papers (and which text of each) an index holds."""
    order = np.argsort(keys, kind="stable")
    digest = hashlib.sha256(model.encode())
    digest.update(np.ascontiguousarray(keys[order], np.int64).tobytes())
    digest.update(np.ascontiguousarray(hashes[order]).tobytes())
    return digest.hexdigest()


def build_index(keys: np.ndarray, vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product index (cosine on normalised vectors) whose ids are `keys`."""
    dim = int(vectors.shape[1])
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(keys):
        index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.asarray(keys, np.int64))
    return index


def save_index(index: faiss.Index, directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write index then manifest, each to a temporary name renamed into place."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        **manifest,
        "count": int(index.ntotal),
        "dimension": int(index.d),
        "index_type": "IDMap2,FlatIP",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = directory / (INDEX_FILE + ".tmp")
    faiss.write_index(index, str(tmp))
    manifest["bytes"] = tmp.stat().st_size
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, directory / INDEX_FILE)
    tmp_manifest = directory / (MANIFEST_FILE + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp_manifest, directory / MANIFEST_FILE)
    return manifest


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST_FILE
    return json.loads(path.read_text()) if path.exists() else None


def load_index(
    directory: Path, model: str | None = None, vector_set: str | None = None
) -> tuple[faiss.Index, dict[str, Any]]:
    """Load and check an index. Raises IndexMissingError or IndexMismatchError.

    `vector_set` (Embedder.vector_set: the model and the backend that embedded it) is
    checked when given; indexes from before backends had names hold the model's torch set.
    """
    manifest = read_manifest(directory)
    path = directory / INDEX_FILE
    if manifest is None or not path.exists():
        raise IndexMissingError(f"no vector index in {directory}: run `paperradar index` first")
    if model is not None and manifest.get("model") != model:
        raise IndexMismatchError(
            f"the index was built with model {manifest.get('model')!r}, not {model!r}: "
            "run `paperradar index` to build one for this model"
        )
    built = manifest.get("vector_set", manifest.get("model"))
    if vector_set is not None and built != vector_set:
        raise IndexMismatchError(
            f"the index holds {built!r} vectors, not {vector_set!r}: set "
            "PAPERRADAR_EMBED_BACKEND to the backend that built it, or run `paperradar index`"
        )
    if path.stat().st_size != manifest.get("bytes"):
        raise IndexMismatchError(f"{path} does not match its manifest: run `paperradar index`")
    index = faiss.read_index(str(path))
    if index.ntotal != manifest["count"] or index.d != manifest["dimension"]:
        raise IndexMismatchError(f"{path} does not match its manifest: run `paperradar index`")
    return index, manifest
