"""Benchmark of the FAISS index the project builds, against exact search, at 100k and 1M vectors.

    python -m bench.index [--sizes 100000,1000000] [--queries 1000]

Data: synthetic, normalised 384-d vectors (the model's dimension), shaped like paper
embeddings, which vary along few directions within a field: 400 topic centres, each
with its own random 32-dimensional patch, plus isotropic noise. Papers of one topic meet
at cosine ~0.3, their nearest neighbours at ~0.5-0.7: a harder case for IVF than
well-separated clusters. Stored as float16, as the vector shards are. Queries are 1,000
more points drawn the same way and not in the index.

For each size, in one run:
- baseline: exact search, `IDMap2,FlatIP` (what the project uses below the threshold);
- the project's index for that size: `index.faiss_index.build_index` (IVF over fp16
  codes past PAPERRADAR_INDEX_FLAT_MAX, nprobe tuned at build to recall@10 >= 0.95 on
  a sample of indexed vectors), and the same index with one thread.
Build time (with nprobe tuning), search latency per single query (k=10, one query per
call, as the CLI and the dashboard search) p50/p99, recall@10 against exact search on
the held-out queries, and the resident memory of a fresh process that loads the index
from disk and answers one query (ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import faiss
import numpy as np

DIM = 384
TOPICS, PATCH = 400, 32  # topic centres; dimensions of the patch around each
SPREAD, NOISE = 0.25, 0.4  # patch scale and isotropic noise, relative to a centre
SEED = 20261122


def synthetic(n: int, seed: int) -> np.ndarray:
    """`n` unit vectors on low-dimensional patches around topic centres (module docstring)."""
    rng = np.random.default_rng(SEED)  # the same topics for the corpus and the queries
    centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    bases = (rng.normal(size=(TOPICS, DIM, PATCH)) * SPREAD).astype(np.float32)
    draw = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        topic = draw.integers(0, TOPICS, m)
        z = draw.normal(size=(m, PATCH)).astype(np.float32)
        block = centres[topic] + np.einsum("mdp,mp->md", bases[topic], z)
        block += NOISE * draw.normal(size=(m, DIM)).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out.astype(np.float16).astype(np.float32)  # as stored: float16 shards


def latencies(index: faiss.Index, queries: np.ndarray, k: int = 10) -> np.ndarray:
    times = np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter()
        index.search(q.reshape(1, -1), k)
        times[i] = time.perf_counter() - t
    return times * 1000


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def loaded_rss_mb(path: Path) -> float:
    """Peak resident memory (VmHWM) of a fresh process that reads the index and answers one
    query. (ru_maxrss would not do: Linux carries it across exec from the parent.)"""
    code = (
        "import faiss, numpy as np, sys\n"
        "index = faiss.read_index(sys.argv[1])\n"
        "index.search(np.ones((1, index.d), 'float32'), 10)\n"
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip()) / 1024


def real_vectors(home: Path, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """The stored vectors of an indexed PAPERRADAR_HOME, less `n_queries` held out as queries."""
    root = home / "vectors"
    shard_dir = next(p for p in sorted(root.iterdir()) if p.is_dir())
    parts = [np.load(p) for p in sorted(shard_dir.glob("[0-9]*.npz"))]
    vectors = np.concatenate([p["vectors"] for p in parts]).astype(np.float32)
    order = np.random.default_rng(SEED).permutation(len(vectors))
    return vectors[order[n_queries:]], vectors[order[:n_queries]]


def bench_size(n: int, n_queries: int, workdir: Path, real: Path | None = None) -> list[tuple]:
    from index.faiss_index import build_index

    if real is None:
        vectors = synthetic(n, seed=n)
        queries = synthetic(n_queries, seed=7)
    else:
        vectors, queries = real_vectors(real, n_queries)
        n = len(vectors)
    keys = np.arange(1, n + 1, dtype=np.int64)
    rows = []

    t = time.perf_counter()
    exact = build_index(keys, vectors, kind="flat")
    exact_build = time.perf_counter() - t
    _, truth = exact.index.search(queries, 10)
    exact_ms = latencies(exact.index, queries[:300])
    faiss.write_index(exact.index, str(workdir / "flat.index"))
    rows.append((n, "exact (IDMap2,FlatIP), baseline", exact_build, exact_ms, 1.0,
                 loaded_rss_mb(workdir / "flat.index"), None))
    del exact

    t = time.perf_counter()
    built = build_index(keys, vectors, kind="ivf")
    ivf_build = time.perf_counter() - t
    index = built.index
    ms = latencies(index, queries)
    _, found = index.search(queries, 10)
    faiss.write_index(index, str(workdir / "ivf.index"))
    rss = loaded_rss_mb(workdir / "ivf.index")
    name = f"{built.info['index_type']}, nprobe {built.info['nprobe']}"
    rows.append((n, name, ivf_build, ms, recall(found, truth), rss, built.info["recall_at_10"]))
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    rows.append((n, name + ", 1 thread", None, latencies(index, queries), None, None, None))
    faiss.omp_set_num_threads(threads)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--real", type=Path, default=None,
                        help="also the real vectors of this indexed PAPERRADAR_HOME (queries: "
                             "--queries of its papers held out of the index)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"bench/index.py, {date.today()}, commit {commit}, {cpu}, {os.cpu_count()} cores, "
          f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), "
          f"{args.queries} held-out queries, k=10")
    print()
    print("| vectors | index | build (s) | search p50 (ms) | search p99 (ms) | p50 vs exact "
          "| recall@10 vs exact | recall@10 at build | RSS loaded (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [*sizes, *([0] if args.real else [])]:
            rows = bench_size(n, args.queries, Path(tmp), args.real if n == 0 else None)
            base = float(np.percentile(rows[0][3], 50))
            for size, name, build, ms, rec, rss, at_build in rows:
                name = name if n else f"real 72k: {name}"
                p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
                print(f"| {size:,} | {name} | {'' if build is None else f'{build:.1f}'} "
                      f"| {p50:.2f} | {p99:.2f} | {base / p50:.1f}x faster "
                      f"| {'' if rec is None else f'{rec:.3f}'} "
                      f"| {'' if at_build is None else f'{at_build:.3f}'} "
                      f"| {'' if rss is None else f'{rss:,.0f}'} |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this benchmark process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
