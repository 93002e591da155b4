"""Search quality on the daily-arXiv corpus: recall@1, recall@10 and MRR@10 per system and case set.

Prints a Markdown table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.search_eval --fixtures ../shared/fixtures [--titles 1000]

Case sets, each a list of (query, the one arXiv id wanted):
- known items: bench/data/known_items.jsonl, queries written by hand from the abstracts
  without the title's words (see bench/known_items.py);
- titles: --titles papers drawn with a fixed seed from the corpus, the query being the
  paper's exact title. Easy for anything lexical; a floor, not a target.
Systems: a TF-IDF baseline like arxiv-sanity-lite's (`TfidfBaseline`), plus whatever
`project_systems` registers. Every system ranks all 71,990 papers.
"""

from __future__ import annotations

import argparse
import platform
import random
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from bench.known_items import DEFAULT_FIXTURES, DEFAULT_PATH, CorpusPaper, load_corpus, load_known_items

SEED = 20261123
TITLE_CASES = 1000
Rank = Callable[[str], list[str]]
Case = tuple[str, str]


@dataclass(frozen=True)
class Metrics:
    recall_at_1: float
    recall_at_10: float
    mrr_at_10: float
    n: int


def evaluate(rank: Rank, cases: Sequence[Case]) -> Metrics:
    """Score `rank` (query -> arXiv ids, best first) on (query, wanted id) cases.

    Only the first 10 ids count; a list shorter than 10 is fine (fewer matches).
    MRR@10 is the mean of 1/rank of the wanted id, 0 when it is not in the top 10.
    """
    if not cases:
        raise ValueError("no cases to evaluate")
    hits_1 = hits_10 = 0
    reciprocal = 0.0
    for query, wanted in cases:
        top = list(rank(query)[:10])
        if wanted in top:
            position = top.index(wanted) + 1
            hits_1 += position == 1
            hits_10 += 1
            reciprocal += 1.0 / position
    n = len(cases)
    return Metrics(hits_1 / n, hits_10 / n, reciprocal / n, n)


def known_item_cases(path: Path = DEFAULT_PATH) -> list[Case]:
    """(query, arxiv_id) for every hand-written known item."""
    return [(item.query, item.arxiv_id) for item in load_known_items(path)]


def title_cases(corpus: Mapping[str, CorpusPaper], n: int = TITLE_CASES, seed: int = SEED) -> list[Case]:
    """(title, arxiv_id) for `n` papers drawn with a fixed seed from the sorted ids."""
    ids = random.Random(seed).sample(sorted(corpus), n)
    return [(corpus[arxiv_id].title, arxiv_id) for arxiv_id in ids]


class TfidfBaseline:
    """Word and bigram TF-IDF over title + abstract, ranked by dot product (arxiv-sanity-lite).

    The vectorizer settings are those of karpathy/arxiv-sanity-lite's compute.py. Its
    document-frequency cut-offs (a term in at least `min_df` papers and at most `max_df`
    of them) suit a corpus of thousands; pass looser ones for a handful of papers.
    Papers sharing no term with the query are left out, so fewer than `k` ids can come back.
    """

    def __init__(self, corpus: Mapping[str, Sequence[str]], *, max_features: int = 20000,
                 min_df: int | float = 5, max_df: int | float = 0.1) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ids = list(corpus)
        self.vectorizer = TfidfVectorizer(
            input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
            lowercase=True, analyzer="word", stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
            max_features=max_features, norm="l2", use_idf=True, smooth_idf=True,
            sublinear_tf=True, max_df=max_df, min_df=min_df)
        docs = (f"{paper[0]}. {paper[1]}" for paper in corpus.values())
        # terms x papers, row-major: a query touches only the rows of its own few terms
        self.index = self.vectorizer.fit_transform(docs).T.tocsr()

    def rank(self, query: str, k: int = 10) -> list[str]:
        """The ids of the `k` papers scoring highest against `query`, best first."""
        scores = np.asarray((self.vectorizer.transform([query]) @ self.index).todense()).ravel()
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.ids[i] for i in top if scores[i] > 0]


def project_systems(corpus: Mapping[str, CorpusPaper], home: Path | None = None) -> dict[str, Rank]:
    """paperradar's own search over an indexed corpus: its three modes, and fusion variants.

    `home` is a PAPERRADAR_HOME holding the corpus, published and indexed:

        PAPERRADAR_HOME=H paperradar ingest snapshot --categories all ../shared/fixtures/daily-arxiv/
        PAPERRADAR_HOME=H paperradar index

    Besides the modes as shipped (`index.search.Searcher.search`), hybrid variants built
    from the same two rankings show why the shipped fusion was chosen: reciprocal-rank
    fusion, and blends of min-max normalised scores with other weights.
    """
    if home is None:
        return {}
    from core.publish import current_snapshot
    from core.settings import Settings
    from flows.cli import _embedder
    from index.search import FUSE_DEPTH, Searcher, fuse

    settings = Settings(home=home)
    searcher = Searcher(current_snapshot(home), _embedder(settings))
    _, rows = searcher.store.query("SELECT paper_id, arxiv_id FROM papers")
    ids = dict(rows)
    missing = len(set(corpus) - set(ids.values()))
    if missing:
        raise SystemExit(f"{home} lacks {missing} corpus papers: ingest and index it first")

    def mode(name: str) -> Rank:
        return lambda query: [r["arxiv_id"] for r in searcher.search(query, 10, mode=name)]

    def both(query: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        vector = searcher.embedder.encode_query(query)
        return (searcher._semantic(vector, FUSE_DEPTH, None),
                searcher._keyword(query, FUSE_DEPTH, None))

    def rrf(k: int) -> Rank:
        def rank(query: str) -> list[str]:
            semantic, keyword = both(query)
            return [ids[key] for key, _ in fuse([semantic, keyword], k)[:10]]
        return rank

    def blend(weight: float) -> Rank:
        def rank(query: str) -> list[str]:
            semantic, keyword = both(query)
            scores: dict[int, float] = {}
            for ranking, w in ((semantic, weight), (keyword, 1 - weight)):
                if not ranking:
                    continue
                values = np.array([s for _, s in ranking])
                lo, hi = values.min(), values.max()
                for key, value in ranking:
                    scores[key] = scores.get(key, 0.0) + w * (value - lo) / max(hi - lo, 1e-9)
            best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            return [ids[key] for key, _ in best]
        return rank

    searcher.search("warm up the model and the keyword index", 10)
    return {
        "paperradar keyword (BM25, DuckDB FTS)": mode("keyword"),
        "paperradar semantic": mode("semantic"),
        "**paperradar hybrid (score blend, 0.4 semantic; shipped)**": mode("hybrid"),
        "hybrid variant: RRF k=60": rrf(60),
        "hybrid variant: RRF k=10": rrf(10),
        "hybrid variant: score blend 0.3 semantic": blend(0.3),
        "hybrid variant: score blend 0.5 semantic": blend(0.5),
        "hybrid variant: score blend 0.7 semantic": blend(0.7),
    }


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()


def run(systems: Mapping[str, Rank], fixtures: Path = DEFAULT_FIXTURES, *,
        corpus: Mapping[str, CorpusPaper] | None = None, known_items: Path = DEFAULT_PATH,
        titles: int = TITLE_CASES) -> str:
    """Evaluate every system on both case sets; print and return the Markdown table.

    `corpus` saves reloading the fixture when the caller has it already.
    """
    import sklearn

    from bench.embed import machine

    corpus = load_corpus(fixtures) if corpus is None else corpus
    case_sets = {"known items": known_item_cases(known_items),
                 f"titles (seed {SEED})": title_cases(corpus, titles)}
    dirty = _git("status", "--porcelain", "--", "bench", "index")
    lines = [f"date: {date.today()}  commit: {_git('rev-parse', '--short', 'HEAD')}"
             f"{' + working tree' if dirty else ''}  machine: {platform.system()} "
             f"{platform.machine()}, {machine()}",
             f"corpus: {len(corpus)} papers (daily-arXiv, {fixtures}); Python "
             f"{platform.python_version()}, scikit-learn {sklearn.__version__}",
             "",
             "| system | set | n | recall@1 | recall@10 | MRR@10 | ms/query |",
             "|---|---|---|---|---|---|---|"]
    for name, rank in systems.items():
        for set_name, cases in case_sets.items():
            start = time.perf_counter()
            m = evaluate(rank, cases)
            ms = 1000 * (time.perf_counter() - start) / m.n
            lines.append(f"| {name} | {set_name} | {m.n} | {m.recall_at_1:.3f} | "
                         f"{m.recall_at_10:.3f} | {m.mrr_at_10:.3f} | {ms:.1f} |")
    table = "\n".join(lines)
    print(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--known-items", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--titles", type=int, default=TITLE_CASES, help="title -> paper cases")
    parser.add_argument("--home", type=Path, default=None,
                        help="a PAPERRADAR_HOME with the corpus ingested and indexed: adds "
                             "paperradar's own modes (see project_systems)")
    args = parser.parse_args()

    corpus = load_corpus(args.fixtures)
    start = time.perf_counter()
    tfidf = TfidfBaseline(corpus)
    print(f"tf-idf index built in {time.perf_counter() - start:.1f} s "
          f"({len(tfidf.vectorizer.vocabulary_)} terms)")
    systems: dict[str, Rank] = {"tf-idf (arxiv-sanity-lite)": tfidf.rank, **project_systems(corpus, args.home)}
    run(systems, args.fixtures, corpus=corpus, known_items=args.known_items, titles=args.titles)


if __name__ == "__main__":
    main()
