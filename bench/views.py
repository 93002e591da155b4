"""Benchmark of the trend views and the topic steps on a real corpus (the 71,990-paper one).

    python -m bench.views --home /tmp/corpus72k-topics [--runs 20] [--stability]

Needs a PAPERRADAR_HOME where `paperradar index` has run (vectors, topics, a published
snapshot). Nothing there is written: the topic steps run on in-memory arrays, and the
end-to-end `update_topics` on a temporary copy of the working database.

- views: each documented view (core/views.py) queried in full (`SELECT * FROM view`, every
  row fetched as an Arrow table, as pandas, Polars or the dashboard read) on the published
  database opened read-only, and every README example query. One warm-up run, then --runs
  timed runs: p50 and max, and the rows returned; plus the p50 of fetching the same rows
  as Python tuples (`fetchall`, one Python object per value).
- topics: fine + broad k-means fit from scratch on every stored vector, labelling (class
  TF-IDF over titles+abstracts, both levels), a refit warm-started from that fit,
  assigning a month of papers to existing topics, and `update_topics` end to end (fit,
  labels, central papers, writing the tables) on a copy of the working database.
- --choose N: the clustering choice on a sample of N papers: spherical k-means (what the
  project uses) against HDBSCAN on a 50-d PCA of the vectors (scikit-learn): time, clusters,
  papers left out as noise, agreement between two runs (adjusted Rand index of k-means
  with two seeds; HDBSCAN is deterministic), silhouette (cosine) of the clustered papers.
- --stability: the corpus grows by a month: topics fitted on the papers up to the end of
  a month, then refit with the next month added; the share of the earlier papers that keep
  their fine (and broad) topic id, for each of the last months of the corpus.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _timed(fn, runs: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    fn()
    times, count = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        count = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), count


def bench_views(db_path: Path, runs: int) -> list[tuple[str, ...]]:
    """Each view and README query in full: fetched as Arrow (how pandas, Polars and the
    dashboard read), p50 and max; and p50 as Python tuples (`fetchall`), which adds the
    cost of one Python object per value."""
    import duckdb

    from core.views import VIEW_NAMES

    con = duckdb.connect(str(db_path), read_only=True)
    rows = []
    queries = [(f"`{name}`", f"SELECT * FROM {name}") for name in VIEW_NAMES]
    readme = re.findall(r"```sql\n(.*?)```", README.read_text(), re.S)
    queries += [(f"README query {i}: {q.strip().splitlines()[0].lstrip('- ')[:60]}", q)
                for i, q in enumerate(readme, 1)]
    try:
        for title, sql in queries:
            p50, worst, count = _timed(lambda q=sql: con.execute(q).to_arrow_table().num_rows, runs)
            py50, _, _ = _timed(lambda q=sql: len(con.execute(q).fetchall()), max(3, runs // 4))
            rows.append((title, f"{count:,}", f"{p50:.1f}", f"{worst:.1f}", f"{py50:.1f}"))
    finally:
        con.close()
    return rows


def _inputs(work_db: Path) -> list[tuple[int, str, str, str]]:
    from core.store import Store

    with Store.open_read_only(work_db) as store:
        return store.embedding_inputs()


def bench_topics(home: Path, vector_set: str) -> list[tuple[str, str, str]]:
    from core.store import Store
    from core.topics_store import TopicStore
    from index import topics as tp
    from index.embed import document_text
    from index.topic_labels import topic_terms
    from index.topic_update import LABEL_PAPERS, topic_vectors, update_topics
    from index.vectors import VectorStore

    vectors = VectorStore(home / "vectors", vector_set)
    inputs = _inputs(home / "work" / "papers.duckdb")
    start = time.perf_counter()
    rows, x = topic_vectors(inputs, vectors)
    load = time.perf_counter() - start
    x = tp.normalise(x)
    n = len(x)
    out = [("load stored vectors", f"{n:,} x {x.shape[1]}", f"{load:.1f} s")]
    start = time.perf_counter()
    model = tp.fit(x)
    out.append(("fit from scratch (k-means++ seeds + 20 Lloyd iterations, both levels)",
                f"{len(model.fine.ids)} fine / {len(model.broad.ids)} broad",
                f"{time.perf_counter() - start:.1f} s"))
    start = time.perf_counter()
    sample = np.sort(np.concatenate(list(tp.central(model.fine_sim, model.fine_of,
                                                    LABEL_PAPERS).values())))
    texts = [document_text(inputs[i][2], inputs[i][3]) for i in rows[sample].tolist()]
    topic_terms(texts, model.fine_of[sample], len(model.fine.ids))
    topic_terms(texts, model.parent[model.fine_of[sample]], len(model.broad.ids))
    out.append((f"labels (class TF-IDF, both levels, {LABEL_PAPERS} central papers a topic)",
                f"{len(sample):,} titles+abstracts", f"{time.perf_counter() - start:.1f} s"))
    start = time.perf_counter()
    tp.refit(x, model.topic_of(), model.broad_of(), int(model.broad.ids.max()) + 1)
    out.append(("refit warm-started from the fit", f"{n:,} papers",
                f"{time.perf_counter() - start:.1f} s"))
    month = x[-5000:]
    start = time.perf_counter()
    tp.assign(month, model.fine, model.broad, model.broad.ids[model.parent])
    out.append(("assign new papers to existing topics", "5,000 papers",
                f"{(time.perf_counter() - start) * 1000:.0f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "papers.duckdb"
        shutil.copyfile(home / "work" / "papers.duckdb", copy)
        with Store.open(copy) as store:
            store.con.execute("DELETE FROM paper_topics; DELETE FROM topics; DELETE FROM topic_fits")
            start = time.perf_counter()
            report = update_topics(TopicStore(store), inputs, vectors)
            out.append(("`update_topics` end to end: fit, labels, central papers, tables",
                        f"{report.papers:,} papers", f"{time.perf_counter() - start:.1f} s"))
            start = time.perf_counter()
            report = update_topics(TopicStore(store), inputs, vectors, refit=True)
            out.append(("`update_topics` refit end to end (ids kept)",
                        f"kept {report.kept_share:.1%}", f"{time.perf_counter() - start:.1f} s"))
    return out


def bench_stability(home: Path, vector_set: str, months: int) -> list[tuple[str, ...]]:
    """Fit up to a month's end, refit with the next month added: share of papers keeping ids."""
    from core.store import Store
    from index import topics as tp
    from index.topic_update import topic_vectors
    from index.vectors import VectorStore

    inputs = _inputs(home / "work" / "papers.duckdb")
    rows, x = topic_vectors(inputs, VectorStore(home / "vectors", vector_set))
    keys = [inputs[i][0] for i in rows.tolist()]
    with Store.open_read_only(home / "work" / "papers.duckdb") as store:
        published = dict(store.con.execute(
            "SELECT paper_id, date_trunc('month', published)::DATE FROM papers").fetchall())
    month_of = np.array([published[k] for k in keys], "datetime64[D]")
    all_months = sorted(set(month_of.tolist()))
    out = []
    for added in all_months[-months:]:
        before = month_of < np.datetime64(added)
        upto = month_of <= np.datetime64(added)
        start = time.perf_counter()
        first = tp.fit(x[before])
        old_fine = np.full(int(upto.sum()), -1)
        old_broad = np.full(int(upto.sum()), -1)
        earlier = before[upto]
        old_fine[earlier] = first.topic_of()
        old_broad[earlier] = first.broad_of()
        again = tp.refit(x[upto], old_fine, old_broad, int(first.broad.ids.max()) + 1)
        fine_kept = float((again.topic_of()[earlier] == first.topic_of()).mean())
        broad_kept = float((again.broad_of()[earlier] == first.broad_of()).mean())
        new_fine = len(set(again.fine.ids.tolist()) - set(first.fine.ids.tolist()))
        out.append((f"{added:%Y-%m}", f"{int(earlier.sum()):,} + {int((~earlier).sum()):,}",
                    f"{len(first.fine.ids)} -> {len(again.fine.ids)} ({new_fine} new)",
                    f"{fine_kept:.1%}", f"{broad_kept:.1%}",
                    f"{time.perf_counter() - start:.0f} s"))
    return out


def bench_choice(home: Path, vector_set: str, sample: int) -> list[tuple[str, ...]]:
    """Spherical k-means against HDBSCAN (on a PCA to 50 dimensions) on a sample of papers."""
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    from index import topics as tp
    from index.topic_update import topic_vectors
    from index.vectors import VectorStore

    inputs = _inputs(home / "work" / "papers.duckdb")
    _, x = topic_vectors(inputs, VectorStore(home / "vectors", vector_set))
    rng = np.random.default_rng(0)
    x = tp.normalise(x[np.sort(rng.choice(len(x), min(sample, len(x)), replace=False))])
    check = np.random.default_rng(1).choice(len(x), min(5000, len(x)), replace=False)
    out = []
    k = tp.fine_k(len(x))
    start = time.perf_counter()
    one, _ = tp.nearest(x, tp.kmeans(x, k, seed=1))
    seconds = time.perf_counter() - start
    two, _ = tp.nearest(x, tp.kmeans(x, k, seed=2))
    out.append((f"spherical k-means, k = {k}", f"{seconds:.1f} s", str(len(set(one.tolist()))),
                "0%", f"{adjusted_rand_score(one, two):.2f}",
                f"{silhouette_score(x[check], one[check], metric='cosine'):.3f}"))
    for min_size in (15, 50):
        start = time.perf_counter()
        reduced = PCA(50, random_state=0).fit_transform(x)
        labels = HDBSCAN(min_cluster_size=min_size).fit_predict(reduced)
        seconds = time.perf_counter() - start
        kept = labels >= 0
        on = check[kept[check]]
        sil = silhouette_score(x[on], labels[on], metric="cosine") if len(set(labels[on])) > 1 else 0
        out.append((f"HDBSCAN on PCA-50, min_cluster_size = {min_size}", f"{seconds:.1f} s",
                    str(len(set(labels[kept].tolist()))), f"{1 - kept.mean():.0%}", "1.00 (deterministic)",
                    f"{sil:.3f}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="PAPERRADAR_HOME to measure")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per query")
    parser.add_argument("--vector-set", default="all-MiniLM-L6-v2+onnx-int8")
    parser.add_argument("--stability", type=int, default=0, metavar="MONTHS",
                        help="also refit after each of the last MONTHS months")
    parser.add_argument("--skip-topics", action="store_true")
    parser.add_argument("--choose", type=int, default=0, metavar="N",
                        help="also compare k-means with HDBSCAN on N sampled papers")
    args = parser.parse_args()

    from core.publish import current_snapshot

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"bench/views.py, {date.today()}, commit {commit}, {cpu}, {os.cpu_count()} cores, "
          f"home {args.home}, {args.runs} runs per query\n")
    rows = bench_views(current_snapshot(args.home).db_path, args.runs)
    print("| view or query | rows | p50 ms (Arrow) | max ms (Arrow) | p50 ms (Python rows) |\n"
          "|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if not args.skip_topics:
        print("\n| topic step | size | time |\n|---|---|---|")
        for row in bench_topics(args.home, args.vector_set):
            print("| " + " | ".join(row) + " |")
    if args.choose:
        print("\n| clustering | time | clusters | noise | agreement of two runs (ARI) "
              "| silhouette (cosine) |\n|---|---|---|---|---|---|")
        for row in bench_choice(args.home, args.vector_set, args.choose):
            print("| " + " | ".join(row) + " |")
    if args.stability:
        print("\n| month added | papers before + added | fine topics | fine ids kept | broad ids kept "
              "| fit + refit |\n|---|---|---|---|---|---|")
        for row in bench_stability(args.home, args.vector_set, args.stability):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
