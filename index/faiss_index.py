"""The FAISS index: inner product over normalised vectors, ids = DuckDB paper keys, with a manifest.

The index type follows the size: exact `IDMap2,FlatIP` below FLAT_MAX vectors, an
inverted file over fp16 vectors (`IVF<nlist>,SQfp16`) from there on, with the number of
lists probed per query chosen at build time as the smallest that finds at least
TARGET_RECALL of the exact top 10 on a sample of the indexed vectors. The stored vectors
are float16 already (index.vectors), so the fp16 codes lose nothing more.

On disk, one generation of the index is `faiss-<gen>.index` + `ids-<gen>.npz` (the keys
and content hashes it holds); `manifest.json` names the current generation and is written
last, by rename, so a crash at any point leaves the previous generation whole. The
manifest (model, vector set, dimension, metric, count, index type, nprobe, recall,
fingerprint of the keys and hashes, build time, file sizes) is checked on load, so an
index never silently answers for another model or another set of papers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from core.errors import IndexMismatchError, IndexMissingError

MANIFEST_FILE = "manifest.json"
LEGACY_INDEX_FILE = "faiss.index"  # before generations: index only, no ids file
FLAT_MAX = 100_000  # exact search up to here: ~10 ms per query at 100k x 384 on 2 cores
TARGET_RECALL = 0.97  # tuned for: held-out queries then land above 0.95 (bench/RESULTS.md)
RECALL_SAMPLE = 1000
NPROBES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
REBUILD_GROWTH = 2.0  # an IVF index is retrained once it holds twice what it was trained on
HASH_DTYPE = "S16"


def fingerprint(model: str, keys: np.ndarray, hashes: np.ndarray) -> str:
    """Identifies exactly which papers (and which text of each) an index holds."""
    order = np.argsort(keys, kind="stable")
    digest = hashlib.sha256(model.encode())
    digest.update(np.ascontiguousarray(keys[order], np.int64).tobytes())
    digest.update(np.ascontiguousarray(np.asarray(hashes, HASH_DTYPE)[order]).tobytes())
    return digest.hexdigest()


def index_kind(count: int, flat_max: int = FLAT_MAX) -> str:
    """"flat" (exact) while small, "ivf" beyond `flat_max` vectors."""
    return "flat" if count < flat_max else "ivf"


def lists_for(count: int) -> int:
    """IVF lists for `count` vectors: ~4 sqrt(n), a power of two (2,048 at 1M)."""
    return int(2 ** round(math.log2(max(16.0, 4 * math.sqrt(count)))))


@dataclass(frozen=True)
class Built:
    """An index and what its manifest says about how it was built."""

    index: faiss.Index
    info: dict[str, Any]


def build_index(
    keys: np.ndarray,
    vectors: np.ndarray,
    kind: str | None = None,
    target_recall: float = TARGET_RECALL,
    sample: int = RECALL_SAMPLE,
    seed: int = 0,
) -> Built:
    """An index over `vectors` (normalised, one row per key) whose ids are `keys`.

    `kind` defaults to index_kind(len(keys)). For IVF the lists are trained on (up to 64
    per list) of the vectors, and nprobe is tuned as the module docstring says.
    """
    vectors = np.ascontiguousarray(vectors, np.float32)
    keys = np.ascontiguousarray(keys, np.int64)
    dim = int(vectors.shape[1])
    kind = kind or index_kind(len(keys))
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if len(keys):
            index.add_with_ids(vectors, keys)
        return Built(index, {"index_type": "IDMap2,FlatIP", "kind": "flat", "recall_at_10": 1.0})
    if kind != "ivf":
        raise ValueError(f"unknown index kind {kind!r}")

    nlist = min(lists_for(len(keys)), max(1, len(keys) // 39))
    rng = np.random.default_rng(seed)
    train = vectors[np.sort(rng.choice(len(keys), min(len(keys), nlist * 64), replace=False))]
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.seed = seed
    index.train(train)
    index.add_with_ids(vectors, keys)
    nprobe, recall = tune_nprobe(index, keys, vectors, target_recall, sample, rng)
    index.nprobe = nprobe
    return Built(index, {
        "index_type": f"IVF{nlist},SQfp16", "kind": "ivf", "nlist": nlist, "nprobe": nprobe,
        "recall_at_10": recall, "recall_sample": min(sample, len(keys)),
        "trained_on": int(len(keys)),
    })


def tune_nprobe(
    index: faiss.IndexIVF,
    keys: np.ndarray,
    vectors: np.ndarray,
    target: float,
    sample: int,
    rng: np.random.Generator,
) -> tuple[int, float]:
    """Smallest nprobe whose recall@10 against exact search reaches `target`, and that recall.

    Queries are indexed vectors; each query's own id is left out of both answers, so what
    is measured is finding its 10 nearest other papers (as "similar papers" does).
    """
    rows = rng.choice(len(keys), min(sample, len(keys)), replace=False)
    queries = vectors[rows]
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 11)
    truth_ids = keys[truth]
    wanted = [set(r[r != keys[q]][:10].tolist()) for r, q in zip(truth_ids, rows, strict=True)]
    recall = 0.0
    nprobe = 1
    for nprobe in (p for p in NPROBES if p <= index.nlist):
        index.nprobe = nprobe
        _, found = index.search(queries, 11)
        hits = sum(
            len(w & set(f[f != keys[q]][:10].tolist()))
            for w, f, q in zip(wanted, found, rows, strict=True)
        )
        recall = hits / max(1, sum(len(w) for w in wanted))
        if recall >= target:
            break
    return nprobe, round(recall, 4)


def save_index(
    built: Built,
    directory: Path,
    keys: np.ndarray,
    hashes: np.ndarray,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """Write a new generation (index, ids), then the manifest naming it; drop older ones."""
    directory.mkdir(parents=True, exist_ok=True)
    gen = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    index_name, ids_name = f"faiss-{gen}.index", f"ids-{gen}.npz"
    index = built.index
    faiss.write_index(index, str(directory / (index_name + ".tmp")))
    with open(directory / (ids_name + ".tmp"), "wb") as fh:
        np.savez(fh, keys=np.asarray(keys, np.int64), hashes=np.asarray(hashes, HASH_DTYPE))
    for name in (index_name, ids_name):
        _fsync(directory / (name + ".tmp"))
        os.replace(directory / (name + ".tmp"), directory / name)
    manifest = {
        **manifest,
        **built.info,
        "metric": "inner_product",
        "count": int(index.ntotal),
        "dimension": int(index.d),
        "built_at": manifest.get("built_at")
        or datetime.now(UTC).isoformat(timespec="seconds"),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {"index": index_name, "ids": ids_name},
        "bytes": {name: (directory / name).stat().st_size for name in (index_name, ids_name)},
    }
    tmp = directory / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    _fsync(tmp)
    os.replace(tmp, directory / MANIFEST_FILE)
    _fsync_dir(directory)
    keep = {index_name, ids_name, MANIFEST_FILE}
    for old in directory.iterdir():
        if old.is_file() and old.name not in keep:
            old.unlink()  # older generations, a legacy faiss.index, leftover .tmp files
    return manifest


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST_FILE
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except json.JSONDecodeError:
        return None


def load_index(
    directory: Path, model: str | None = None, vector_set: str | None = None
) -> tuple[faiss.Index, dict[str, Any]]:
    """Load and check an index. Raises IndexMissingError or IndexMismatchError.

    `vector_set` (Embedder.vector_set: the model and the backend that embedded it) is
    checked when given; indexes from before backends had names hold the model's torch set.
    """
    manifest = read_manifest(directory)
    files = manifest.get("files", {"index": LEGACY_INDEX_FILE}) if manifest else {}
    path = directory / files.get("index", LEGACY_INDEX_FILE)
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
    sizes = manifest.get("bytes")
    expected = sizes.get(path.name) if isinstance(sizes, dict) else sizes
    if path.stat().st_size != expected:
        raise IndexMismatchError(f"{path} does not match its manifest: run `paperradar index`")
    index = faiss.read_index(str(path))
    if index.ntotal != manifest["count"] or index.d != manifest["dimension"]:
        raise IndexMismatchError(f"{path} does not match its manifest: run `paperradar index`")
    if "nprobe" in manifest:
        faiss.extract_index_ivf(index).nprobe = int(manifest["nprobe"])
    return index, manifest


def load_ids(directory: Path, manifest: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(keys, hashes) the index holds, checked against the manifest's fingerprint."""
    name = manifest.get("files", {}).get("ids")
    if not name or not (directory / name).exists():
        raise IndexMismatchError(f"the index in {directory} lists no ids: run `paperradar index`")
    with np.load(directory / name) as data:
        keys, hashes = data["keys"], data["hashes"]
    if fingerprint(manifest["vector_set"], keys, hashes) != manifest.get("fingerprint"):
        raise IndexMismatchError(f"the ids in {directory} do not match its manifest")
    return keys, hashes


def index_ids(index: faiss.Index) -> np.ndarray:
    """Every id stored in `index` (IDMap2 or IVF), as int64."""
    if isinstance(index, faiss.IndexIDMap2 | faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
        for i in range(ivf.nlist)
        if invlists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
