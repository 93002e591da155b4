"""Embeddings on disk, per model, outside the FAISS file: the index is rebuilt from these.

Each model has a folder of append-only shards (`000001.npz`: int64 keys, content hashes,
float16 vectors). A shard is written to a temporary name and renamed, so a crash loses at
most the shard being written; the newest shard wins when a key appears twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from core.errors import IndexMismatchError

HASH_DTYPE = "S16"


def model_slug(model: str) -> str:
    """A folder name for a model name or path: readable part + short hash of the whole."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", model.rstrip("/").split("/")[-1])[:60]
    return f"{tail}-{hashlib.sha1(model.encode()).hexdigest()[:8]}"


class VectorStore:
    """The stored vectors of one model under `root/<model slug>/`."""

    def __init__(self, root: Path, model: str) -> None:
        self.model = model
        self.path = root / model_slug(model)

    def shards(self) -> list[Path]:
        return sorted(self.path.glob("[0-9]*.npz")) if self.path.is_dir() else []

    def dimension(self) -> int | None:
        meta = self.path / "model.json"
        return int(json.loads(meta.read_text())["dimension"]) if meta.exists() else None

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keys int64, hashes S16, vectors float16) with one row per key, newest shard winning."""
        parts = [np.load(shard) for shard in self.shards()]
        if not parts:
            dim = self.dimension() or 0
            return (
                np.zeros(0, np.int64),
                np.zeros(0, HASH_DTYPE),
                np.zeros((0, dim), np.float16),
            )
        keys = np.concatenate([p["keys"] for p in parts])
        hashes = np.concatenate([p["hashes"] for p in parts])
        vectors = np.concatenate([p["vectors"] for p in parts])
        # Last occurrence of each key: unique over the reversed arrays.
        _, first_in_reversed = np.unique(keys[::-1], return_index=True)
        keep = np.sort(len(keys) - 1 - first_in_reversed)
        return keys[keep], hashes[keep], vectors[keep]

    def append(self, keys: np.ndarray, hashes: list[str], vectors: np.ndarray) -> Path:
        """Store new vectors as one more shard (atomically)."""
        dim = int(vectors.shape[1])
        self.path.mkdir(parents=True, exist_ok=True)
        known = self.dimension()
        if known is None:
            _atomic_write(
                self.path / "model.json",
                json.dumps({"model": self.model, "dimension": dim}).encode(),
            )
        elif known != dim:
            raise IndexMismatchError(
                f"model {self.model!r} now gives {dim}-d vectors, stored ones are {known}-d: "
                f"delete {self.path} to re-embed"
            )
        shards = self.shards()
        number = int(shards[-1].stem) + 1 if shards else 1
        target = self.path / f"{number:06d}.npz"
        tmp = target.with_suffix(".npz.tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                keys=np.asarray(keys, np.int64),
                hashes=np.asarray(hashes, HASH_DTYPE),
                vectors=np.asarray(vectors, np.float16),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return target


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
