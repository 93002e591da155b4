"""Benchmark of bulk ingest: the Kaggle snapshot import into DuckDB, and Atom page parsing.

Prints a table; copy it with the header lines into bench/RESULTS.md.

    python -m bench.ingest --fixtures ../shared/fixtures [--repeat 5] [--baseline REV]

The baseline is the code this path replaced, measured in the same run: core/store.py,
ingest/snapshot.py and ingest/arxiv_api.py as of git revision REV (default: the commit
before the bulk path), loaded from `git show` into modules of their own. Rows, on the
16 daily-arXiv .jsonl.gz files (71,990 cs papers) and a 1,737-entry Atom page:

- parse only: the baseline parser (a Paper per line, GzipFile), and the bulk parser
  (`iter_snapshot_batches`: rows of fields in batches).
- import into an empty store, timed to the end of a CHECKPOINT (the data written into
  the database file, not only the WAL): the baseline (its `iter_snapshot_files` into its
  `upsert_papers(batch_size=20_000)`, what `paperradar ingest snapshot` ran), the Paper
  path with the new store, and the bulk path (`iter_snapshot_batches` into
  `upsert_papers(read_ahead=True)`, what the command runs now).
- `paperradar ingest snapshot` itself, in a subprocess: start-up, import, checkpoint and
  publishing the snapshot (a copy of the database file).
- Atom: `arxiv._feed.parse` alone, then with the baseline's and the new `result_to_paper`
  (the page built by the loopback arXiv server from the daily-arXiv fixture; variants
  interleaved, each after gc.collect()).
- re-import of the same files into the full store (every paper unchanged).

Each row: --repeat runs (at least 15 for Atom), the variants of a comparison taking
turns; the median and the best rate, and the median CPU seconds of this process (all
threads, and the child for the command). This 2-core box is shared: another job on it
slows every variant of a comparison alike, so compare within a run; CPU time moves less
than wall time. /proc/pressure/cpu before and after says how busy the box was.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASELINE = "6c835d5"  # the parent of 7f7d311, which brought the bulk path
ATOM_QUERY = {"search_query": "cat:cs.CV AND submittedDate:[202606010000 TO 202606302359]",
              "start": "0", "max_results": "2000", "sortBy": "submittedDate",
              "sortOrder": "ascending"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"))
    parser.add_argument("--repeat", type=int, default=5, help="runs per row")
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the baseline code")
    args = parser.parse_args()

    import duckdb

    from core.store import Store
    from ingest.snapshot import iter_snapshot_batches, iter_snapshot_files

    old_store = _load(args.baseline, "core/store.py", "bench_baseline_store")
    old_snapshot = _load(args.baseline, "ingest/snapshot.py", "bench_baseline_snapshot")
    old_api = _load(args.baseline, "ingest/arxiv_api.py", "bench_baseline_arxiv_api")
    files = sorted((args.fixtures / "daily-arxiv").glob("*.jsonl.gz"))
    work = Path(tempfile.mkdtemp(prefix="paperradar-bench-ingest-"))
    pressure_before = _pressure()
    rows: list[tuple[str, ...]] = []
    rep = args.repeat

    def row(stage: str, n: int, unit: str, runs: list[tuple[float, float]],
            base: list[tuple[float, float]] | None = None) -> None:
        wall, cpu = _median(runs)
        best = min(r[0] for r in runs)
        ratio = "" if base is None else f"{_median(base)[0] / wall:.2f}x"
        rows.append((stage, f"{n:,} {unit}", f"{n / wall:,.0f} {unit}/s",
                     f"{n / best:,.0f} {unit}/s", f"{cpu:.2f} s", ratio))

    # (a) The snapshot import into an empty store; the variants take turns.
    n = 71_990
    parse = _interleaved(rep, {
        "old": lambda: sum(1 for _ in old_snapshot.iter_snapshot_files(files)),
        "new": lambda: sum(len(b) for b in iter_snapshot_batches(files)),
    })
    row("snapshot parse only, baseline (a Paper per line)", n, "papers", parse["old"])
    row("snapshot parse only, bulk (row batches)", n, "papers", parse["new"], parse["old"])

    def import_with(store_cls: Any, papers: Callable[[], Any], **kw: Any) -> Callable[[], None]:
        def run() -> None:
            path = work / "import.duckdb"
            with store_cls.open(path) as store:
                result = store.upsert_papers(papers(), **kw)
                store.checkpoint()
            assert result.inserted == n, result
            path.unlink()
        return run

    imports = _interleaved(rep, {
        "old": import_with(old_store.Store, lambda: old_snapshot.iter_snapshot_files(files),
                           batch_size=20_000),
        "papers": import_with(Store, lambda: iter_snapshot_files(files), batch_size=20_000),
        "bulk": import_with(Store, lambda: iter_snapshot_batches(files), read_ahead=True),
        "cli": lambda: _cli(work / "home", args.fixtures / "daily-arxiv"),
    })
    row("snapshot import, baseline (parse + upsert + checkpoint)", n, "papers", imports["old"])
    row("snapshot import, Paper path into the new store", n, "papers", imports["papers"],
        imports["old"])
    row("**snapshot import, bulk path** (`ingest snapshot`)", n, "papers", imports["bulk"],
        imports["old"])
    row("`paperradar ingest snapshot` (subprocess: start-up, migrations, import, publish)", n,
        "papers", imports["cli"], imports["old"])

    # (b) Atom: one large real page, rendered by the loopback arXiv server's page builder.
    from arxiv import _feed

    from ingest.arxiv_api import result_to_paper
    from tests.support.arxiv_server import ArxivFixtureServer

    body = ArxivFixtureServer(args.fixtures).search(ATOM_QUERY)
    results = _feed.parse(body).results
    entries = len(results)
    atom_rep = max(rep, 15)
    atom = _interleaved(atom_rep, {
        "package": lambda: _feed.parse(body),
        "old": lambda: [old_api.result_to_paper(r) for r in _feed.parse(body).results],
        "new": lambda: [result_to_paper(r) for r in _feed.parse(body).results],
        "old alone": lambda: [old_api.result_to_paper(r) for r in results],
        "new alone": lambda: [result_to_paper(r) for r in results],
    })
    row("Atom page: `arxiv._feed.parse` alone", entries, "entries", atom["package"])
    row("Atom page: parse + `result_to_paper`, baseline", entries, "entries", atom["old"])
    row("Atom page: parse + `result_to_paper`, now", entries, "entries", atom["new"], atom["old"])
    row("`result_to_paper` alone, baseline", entries, "entries", atom["old alone"])
    row("`result_to_paper` alone, now", entries, "entries", atom["new alone"], atom["old alone"])

    # (c) Every paper again, into a store that holds them all.
    full = _fill(Store, work / "full.duckdb", lambda: iter_snapshot_batches(files), read_ahead=True)
    old_full = _fill(old_store.Store, work / "full-old.duckdb",
                     lambda: old_snapshot.iter_snapshot_files(files), batch_size=20_000)

    def reimport(store_cls: Any, path: Path, papers: Callable[[], Any], **kw: Any) -> Callable[[], None]:
        def run() -> None:
            with store_cls.open(path) as store:
                result = store.upsert_papers(papers(), **kw)
            assert result.unchanged == n, result
        return run

    again = _interleaved(rep, {
        "old": reimport(old_store.Store, old_full, lambda: old_snapshot.iter_snapshot_files(files),
                        batch_size=20_000),
        "new": reimport(Store, full, lambda: iter_snapshot_batches(files), read_ahead=True),
    })
    row("re-import into the full store (all unchanged), baseline", n, "papers", again["old"])
    row("re-import into the full store (all unchanged), bulk path", n, "papers", again["new"],
        again["old"])

    shutil.rmtree(work, ignore_errors=True)
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (+ uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    print(f"date: {date.today()}  commit: {commit}{dirty}  baseline: {args.baseline}  "
          f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, duckdb {duckdb.__version__}; "
          f"{rep} runs per row ({atom_rep} for Atom), variants taking turns")
    print(f"CPU pressure (some avg10/avg60) before: {pressure_before}, after: {_pressure()}")
    print("| stage | size | median | best | CPU (median) | vs baseline (medians) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {' | '.join(r)} |")


def _runs(repeat: int, fn: Callable[[], Any]) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of `repeat` calls; CPU counts all threads and waited-for children."""
    out = []
    for _ in range(repeat):
        cpu0 = _cpu()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start, _cpu() - cpu0))
    return out


def _interleaved(repeat: int, fns: dict[str, Callable[[], Any]]) -> dict[str, list[tuple[float, float]]]:
    """`repeat` runs of each function, taking turns, each after gc.collect(): another job
    on the box then slows every variant alike, and garbage one run leaves is not
    collected in the next one's time."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            out[name] += _runs(1, fn)
    return out


def _cpu() -> float:
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _fill(store_cls: Any, path: Path, papers: Callable[[], Any], **kw: Any) -> Path:
    with store_cls.open(path) as store:
        store.upsert_papers(papers(), **kw)
        store.checkpoint()
    return path


def _cli(home: Path, folder: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)  # an empty store each time
    env = {**os.environ, "PAPERRADAR_HOME": str(home)}
    subprocess.run([sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())",
                    "ingest", "snapshot", str(folder), "--categories", "all"],
                   cwd=REPO, env=env, check=True, capture_output=True)


def _load(rev: str, path: str, name: str) -> types.ModuleType:
    """The module at `path` as of git revision `rev`, imported under `name`."""
    source = _git("show", f"{rev}:{path}")
    module = types.ModuleType(name)
    module.__file__ = f"{rev}:{path}"
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


def _pressure() -> str:
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
    except OSError:
        return "n/a"
    fields = dict(f.split("=") for f in some[1:])
    return f"{fields['avg10']}%/{fields['avg60']}%"


if __name__ == "__main__":
    main()
