"""Benchmark of the first end-to-end path: arXiv (loopback) -> DuckDB -> embeddings -> FAISS -> search.

Prints a table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.foundation --fixtures ../shared/fixtures [--embed 600] [--queries 200]

Stages, each on real data from the daily-arXiv fixture:
- ingest: `paperradar ingest arxiv`'s path (arxiv client over loopback HTTP, parse, upsert)
  for cs.CL+cs.CV 2026-06-01..07; papers/s.
- upsert only: the same papers stored again into an empty store (no HTTP); papers/s.
- embed: plain sentence-transformers fp32 `encode` (the CPU baseline other embedding
  paths are compared with), on the first --embed abstracts; papers/s.
- snapshot: the 71,990 daily-arXiv papers parsed, then parsed and stored (`ingest snapshot`).
- search: end-to-end semantic search (embed query + FAISS + DuckDB join) over the indexed
  papers; p50/p99 over --queries real titles used as queries.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--embed", type=int, default=600, help="papers to embed")
    parser.add_argument("--queries", type=int, default=200, help="search queries to time")
    args = parser.parse_args()

    import torch

    from core.publish import publish
    from core.store import Store
    from index.build import update_index
    from index.embed import Embedder
    from index.search import Searcher
    from index.vectors import VectorStore
    from ingest.arxiv_api import ArxivAPIClient
    from tests.support.arxiv_server import ArxivFixtureServer

    work = Path(tempfile.mkdtemp(prefix="paperradar-bench-"))
    rows: list[tuple[str, str, str]] = []

    with ArxivFixtureServer(args.fixtures) as server:
        client = ArxivAPIClient(server.api_url, delay=0, page_size=1000)
        list(client.fetch_window(["cs.CL"], date(2026, 6, 1), date(2026, 6, 1)))  # warm the server
        start = time.perf_counter()
        papers = list(client.fetch_window(["cs.CL", "cs.CV"], date(2026, 6, 1), date(2026, 6, 7)))
        fetched = time.perf_counter() - start
        with Store.open(work / "work.duckdb") as store:
            start = time.perf_counter()
            store.upsert_papers(papers)
            stored = time.perf_counter() - start
    rows.append(("ingest (HTTP + parse + upsert)", f"{len(papers)} papers",
                 f"{len(papers) / (fetched + stored):,.0f} papers/s"))
    with Store.open(work / "again.duckdb") as store:
        start = time.perf_counter()
        store.upsert_papers(papers)
        rows.append(("upsert into empty store", f"{len(papers)} papers",
                     f"{len(papers) / (time.perf_counter() - start):,.0f} papers/s"))

    from ingest.snapshot import iter_snapshot_files

    files = sorted((args.fixtures / "daily-arxiv").glob("*.jsonl.gz"))
    start = time.perf_counter()
    parsed = sum(1 for _ in iter_snapshot_files(files))
    parse_s = time.perf_counter() - start
    rows.append(("snapshot parse (16 .jsonl.gz files)", f"{parsed} papers",
                 f"{parsed / parse_s:,.0f} papers/s"))
    with Store.open(work / "snapshot.duckdb") as store:
        start = time.perf_counter()
        result = store.upsert_papers(iter_snapshot_files(files), batch_size=20_000)
        took = time.perf_counter() - start
    rows.append(("snapshot import (parse + upsert, empty store)", f"{result.inserted} papers",
                 f"{result.inserted / took:,.0f} papers/s"))

    embedder = Embedder("all-MiniLM-L6-v2", "cpu")
    _ = embedder.model
    with Store.open(work / "work.duckdb") as store:
        inputs = store.embedding_inputs()[: args.embed]
    start = time.perf_counter()
    report = update_index(inputs, embedder, VectorStore(work / "vectors", embedder.model_name),
                          work / "index")
    took = time.perf_counter() - start
    rows.append(("embed, sentence-transformers fp32 (baseline)", f"{report.embedded} papers",
                 f"{report.embedded / took:,.1f} papers/s"))

    snapshot = publish(work / "home", work / "work.duckdb", work / "index", {})
    searcher = Searcher(snapshot, embedder)
    queries = [p.title for p in papers[: args.queries]]
    searcher.search(queries[0])
    times = []
    for query in queries:
        start = time.perf_counter()
        searcher.search(query, k=10)
        times.append((time.perf_counter() - start) * 1000)
    searcher.close()
    times.sort()
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    rows.append(("search end to end (semantic, k=10)", f"{len(times)} queries, {report.indexed} docs",
                 f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"date: {date.today()}  commit: {commit}  machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("| stage | size | result |")
    print("|---|---|---|")
    for stage, size, result in rows:
        print(f"| {stage} | {size} | {result} |")


if __name__ == "__main__":
    main()
