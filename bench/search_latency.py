"""Search latency end to end on an indexed corpus: each mode, with and without filters.

    python -m bench.search_latency --home H [--fixtures ../shared/fixtures] [--rounds 2]

H is a PAPERRADAR_HOME holding the 71,990-paper daily-arXiv corpus, ingested and indexed
(see bench/search_eval.py). One process loads the Searcher once (model, FAISS index,
keyword postings, read-only DuckDB), as the dashboard and a long-lived CLI do; start-up
is reported separately and not counted in the latencies.

Queries: the 99 hand-written known-item queries and 101 titles drawn with a fixed seed,
each run --rounds times after one warm-up pass. A query's time is everything
`Searcher.search(query, 10, filters, mode)` does: clean the query, select the filtered
papers in DuckDB, embed the query, search FAISS and BM25 (in parallel for hybrid), fuse,
join the result rows in DuckDB, make snippets.

Baseline in the same run: keyword search the direct way, the FTS extension's
`match_bm25` macro in SQL over the same index (ORDER BY score LIMIT 10), and the
components of semantic search alone.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import time
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SEED = 20261124


def queries(fixtures: Path) -> list[str]:
    from bench.known_items import load_corpus, load_known_items

    corpus = load_corpus(fixtures)
    titles = random.Random(SEED).sample(sorted(corpus), 101)
    return [item.query for item in load_known_items()] + [corpus[i][0] for i in titles]


def timed(fn, items: list[str], rounds: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    for item in items:  # warm-up
        fn(item)
    times = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - start)
    return np.array(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from bench.embed import machine
    from core.publish import current_snapshot
    from core.settings import Settings
    from flows.cli import _embedder
    from index.search import Filters, Searcher

    items = queries(args.fixtures)
    start = time.perf_counter()
    settings = Settings(home=args.home)
    searcher = Searcher(current_snapshot(args.home), _embedder(settings))
    searcher.embedder.load()
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    _ = searcher.keyword
    keyword_loaded = time.perf_counter() - start
    _, [(papers,)] = searcher.store.query("SELECT count(*) FROM papers WHERE NOT withdrawn")

    filters = {
        "none": Filters(),
        "cs.CL since 2026-01-01": Filters(since=date(2026, 1, 1), categories=("cs.CL",)),
        "has code, cs.CV": Filters(categories=("cs.CV",), has_code=True),
    }
    rows: list[tuple[str, str, np.ndarray]] = []
    con = searcher.store.con

    def match_bm25(query: str) -> None:
        con.execute(
            "SELECT paper_id, score FROM (SELECT paper_id, fts_main_keyword_docs.match_bm25("
            "paper_id, ?) AS score FROM keyword_docs) WHERE score IS NOT NULL "
            "ORDER BY score DESC LIMIT 10", [query]).fetchall()

    rows.append(("keyword via the extension's match_bm25 (baseline)", "none",
                 timed(match_bm25, items[:40], 1)))
    rows.append(("  component: embed the query", "none",
                 timed(searcher.embedder.encode_query, items, args.rounds)))
    vectors = {q: searcher.embedder.encode_query(q).reshape(1, -1) for q in items}
    rows.append(("  component: FAISS top 10", "none",
                 timed(lambda q: searcher.index.search(vectors[q], 10), items, args.rounds)))
    for mode in ("keyword", "semantic", "hybrid"):
        for name, f in filters.items():
            rows.append((mode, name, timed(lambda q, f=f, m=mode: searcher.search(q, 10, f, m),
                                           items, args.rounds)))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"bench/search_latency.py, {date.today()}, commit {commit}, {machine()}, "
          f"{os.cpu_count()} cores; {papers:,} papers, index {searcher.manifest['index_type']}, "
          f"{searcher.embedder.vector_set}; {len(items)} queries x {args.rounds} rounds, k=10")
    print(f"start-up (not counted): index + database + model {loaded:.1f} s, keyword "
          f"postings {keyword_loaded:.1f} s; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    print()
    base = float(np.percentile(rows[0][2], 50))
    print("| search | filters | p50 (ms) | p99 (ms) | mean (ms) | p50 vs baseline |")
    print("|---|---|---|---|---|---|")
    for name, f, ms in rows:
        p50 = float(np.percentile(ms, 50))
        print(f"| {name} | {f} | {p50:.1f} | {np.percentile(ms, 99):.1f} | {ms.mean():.1f} "
              f"| {base / p50:.1f}x |")
    searcher.close()


if __name__ == "__main__":
    main()
