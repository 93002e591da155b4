"""Watchlist minimum scores: precision and recall of each mode's score at a range of minimums.

Four realistic watch queries over the papers of the corpus's last four weeks, matches judged
by hand (bench/data/watch_labels.json, which says how). For each query the real
`Searcher.absolute_scores` scores every paper of those weeks, and each mode's watch score
(index.watch.watch_score) is held to each minimum; a paper no one judged counts as not
relevant, so precision is a floor where judgements run out (the table says how many such
papers passed). Recall is of the relevant papers judged. Prints Markdown for RESULTS.md.

    PAPERRADAR_HOME=<an indexed 72k home> python -m bench.watch_threshold
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

from core.publish import current_snapshot
from core.settings import Settings
from flows.steps import embedder
from index.search import Filters, Searcher
from index.watch import watch_score

LABELS = Path(__file__).parent / "data" / "watch_labels.json"
MINIMUMS = (0.35, 0.40, 0.45, 0.50, 0.55, 0.60)


def scores(searcher: Searcher, query: str, since: date) -> dict[str, dict[str, float]]:
    """arxiv_id -> {mode: watch score} for the papers with v1 on or after `since`."""
    keys = searcher.allowed(Filters(since=since))
    assert keys is not None
    found = searcher.absolute_scores(query, keys)
    ids = {k: r["arxiv_id"] for k, r in searcher.store.papers_by_key([k for k, _, _ in found]).items()}
    return {ids[key]: {mode: float(watch_score(mode, cosine, keyword) or 0.0)
                       for mode in ("hybrid", "semantic", "keyword")}
            for key, cosine, keyword in found}


def table(labels: dict[str, dict[str, bool]], scored: dict[str, dict[str, dict[str, float]]],
          mode: str) -> list[str]:
    queries = list(labels)
    lines = [f"| {mode} minimum | " + " | ".join(f"{q}: matches, P, R" for q in queries)
             + " | mean P | mean R |", "|---|" + "---|" * (len(queries) + 2)]
    for minimum in MINIMUMS:
        cells, precision, recall = [], [], []
        for q in queries:
            passed = [a for a, s in scored[q].items() if s[mode] >= minimum]
            good = sum(labels[q].get(a, False) for a in passed)
            unjudged = sum(a not in labels[q] for a in passed)
            p = good / len(passed) if passed else float("nan")
            r = good / sum(labels[q].values())
            precision.append(p)
            recall.append(r)
            cells.append(f"{len(passed)}, {p:.2f}, {r:.2f}" + (f" ({unjudged} unjudged)" if unjudged
                                                                else ""))
        lines.append(f"| {minimum:.2f} | " + " | ".join(cells)
                     + f" | {np.nanmean(precision):.2f} | {np.mean(recall):.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args()
    data = json.loads(args.labels.read_text())
    settings = Settings()
    searcher = Searcher(current_snapshot(settings.home), embedder(settings))
    try:
        since = date.fromisoformat(data["since"])
        scored = {q: scores(searcher, q, since) for q in data["labels"]}
    finally:
        searcher.close()
    papers = len(next(iter(scored.values())))
    print(f"{papers:,} papers with v1 on or after {since}; judged: {data['judged']}\n")
    for mode in ("hybrid", "semantic", "keyword"):
        print("\n".join(table(data["labels"], scored, mode)) + "\n")


if __name__ == "__main__":
    main()
