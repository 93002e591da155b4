"""Benchmark of the text extractors (code links, venues) over the 71,990-paper daily-arXiv fixture.

Prints a table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.extraction --fixtures ../shared/fixtures [--repeat 3]

Each extractor runs over every paper's text as arXiv served it and as the store keeps it
(whitespace collapsed); the best of --repeat runs is reported, in papers/s and µs per paper,
with the share of papers that got a result. Reading the files is not timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

from ingest.text_links import extract_code_links
from ingest.venues import extract_venues

Paper = tuple[str, str | None, str | None]


def load(folder: Path) -> list[Paper]:
    papers = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rb") as lines:
            for line in lines:
                rec = json.loads(line)
                papers.append((rec["id"], rec["comments"], rec["abstract"]))
    return papers


def collapse(papers: list[Paper]) -> list[Paper]:
    return [(i, " ".join(c.split()) if c else None, " ".join(a.split()) if a else None) for i, c, a in papers]


def best_of(repeat: int, fn: Callable[[Paper], object], papers: list[Paper]) -> tuple[float, int]:
    best, hits = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        hits = sum(1 for paper in papers if fn(paper))
        best = min(best, time.perf_counter() - start)
    return best, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    served = load(args.fixtures / "daily-arxiv")
    stored = collapse(served)
    extractors: dict[str, Callable[[Paper], object]] = {
        "extract_code_links (comment + abstract)": lambda p: extract_code_links(p[0], p[1], p[2]),
        "extract_venues (comment)": lambda p: extract_venues(p[0], p[1], None),
    }
    machine = f"Python {platform.python_version()}, {platform.machine()}"
    print(f"{len(served)} papers, {machine}, best of {args.repeat}")
    print("| extractor | text | papers/s | µs/paper | papers with a result |")
    print("|---|---|---|---|---|")
    for name, fn in extractors.items():
        for label, papers in (("as served", served), ("collapsed", stored)):
            seconds, hits = best_of(args.repeat, fn, papers)
            print(
                f"| {name} | {label} | {len(papers) / seconds:,.0f} | {seconds / len(papers) * 1e6:.1f} "
                f"| {hits:,} ({hits / len(papers):.1%}) |"
            )


if __name__ == "__main__":
    main()
