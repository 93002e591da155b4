"""SIGKILL `paperradar run` at random moments of seven steps (ingest, enrich, embed, index,
topics, watchlists, publish): the last published snapshot stays whole and loadable after every
kill, and the next run completes with every paper once, none lost, and every watchlist match
once, none lost.

The runs are chained, as they would be in real life: each one is killed in a later step
than the one before, after its own log line says that step is under way, plus a random
delay; it starts from whatever the killed run left. Nothing in the code under test knows it
is being killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings
from core.store import paper_key
from flows.health import collect_status
from index.vectors import VectorStore
from tests.flows.conftest import DAY1, DAY2, child_env, expected_ids, run_paperradar
from tests.flows.test_cli import paperradar
from tests.flows.test_index_kill import published_index_is_whole

# (step, a log line showing the step is under way, seconds to wait after it before SIGKILL,
#  the log line that says the step is done)
KILL_POINTS = [
    ("ingest", "arXiv: cs.CL submitted", (0.1, 1.0), "arXiv: fetched"),
    ("enrich", "pwc: looking up", (0.05, 0.4), "enrich pwc:"),
    ("embed", "embed: 8/", (0.2, 1.5), "papers embedded"),
    ("index", "papers belong in the index", (0.0, 0.1), "index: holds"),
    ("topics", "index: holds", (0.1, 0.6), "topics: "),
    ("watchlists", "topics: ", (0.0, 0.4), "watchlists: "),
    ("publish", "publishing ", (0.0, 0.0), "published "),
]
SLOW = {  # slow enough to be caught mid-step; the data is real
    "PAPERRADAR_ARXIV_PAGE_SIZE": "20",
    "PAPERRADAR_ARXIV_DELAY": "0.15",
    "PAPERRADAR_ENRICH_DELAY": "0.01",
    "PAPERRADAR_INDEX_SHARD_SIZE": "8",
    "PAPERRADAR_EMBED_THREADS": "1",
}
WINDOW = ["run", "--since", str(DAY1), "--until", str(DAY2)]


def kill_during(api: str, marker: str, delay: float) -> tuple[str, str]:
    """Start `paperradar run`, SIGKILL it `delay` s after a log line containing `marker`;
    (the output up to the kill, the output after it)."""
    child = subprocess.Popen([*paperradar(), *WINDOW], env=child_env(api, **SLOW),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    assert child.stderr is not None
    seen = []
    try:
        for line in child.stderr:
            seen.append(line)
            if marker in line:
                time.sleep(delay)
                os.killpg(child.pid, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the run ended before {marker!r}:\n{''.join(seen)[-3000:]}")
        rest = child.stderr.read()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    return "".join(seen), rest


@pytest.mark.slow
def test_killed_daily_runs_keep_the_snapshot_and_the_next_run_completes(
    flow_home: Path, fixtures_dir: Path, prefect_api: str
) -> None:
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    first = run_paperradar(prefect_api, "run", "--since", str(DAY1), "--until", str(DAY1))
    assert first.returncode == 0, first.stderr
    day1 = {paper_key(i) for i in expected_ids(fixtures_dir, DAY1, DAY1)}
    both = {paper_key(i) for i in expected_ids(fixtures_dir, DAY1, DAY2)}
    assert published_index_is_whole(flow_home) == day1
    added = run_paperradar(prefect_api, "watch", "add", "rag", "retrieval-augmented generation")
    assert added.returncode == 0, added.stderr

    landed = []
    for step, marker, (low, high), done in KILL_POINTS:
        before, after = kill_during(prefect_api, marker, rng.uniform(low, high))
        context = f"seed {seed}, killed in {step}; last lines:\n{before[-1500:]}"
        landed.append((step, done not in (before + after).split(marker, 1)[1]))
        # Readers still get a whole snapshot: the one before the run, or (killed after the
        # atomic rename) the one after it; a plain DuckDB session opens it.
        assert published_index_is_whole(flow_home) in (day1, both), context
        con = duckdb.connect(str(flow_home / "papers.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM papers").fetchone()[0] in (len(day1), len(both))
        con.close()
        assert collect_status(Settings())["index"]["consistent"], context

    final = run_paperradar(prefect_api, *WINDOW)
    assert final.returncode == 0, final.stderr
    assert published_index_is_whole(flow_home) == both  # no paper lost, none twice in the index
    with duckdb.connect(str(flow_home / "papers.duckdb"), read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT arxiv_id FROM papers").fetchall()]
        statuses = {r[0] for r in con.execute("SELECT status FROM runs").fetchall()}
    assert sorted(ids) == sorted(expected_ids(fixtures_dir, DAY1, DAY2))
    assert statuses <= {"ok", "interrupted"} and "interrupted" in statuses
    keys = VectorStore(flow_home / "vectors", "all-MiniLM-L6-v2+onnx-int8").load()[0].tolist()
    assert sorted(keys) == sorted(both)  # each paper embedded once, whatever was killed
    status = collect_status(Settings())
    assert status["index"]["state"] == "consistent"
    assert status["index"]["papers"] == status["index"]["count"] == status["index"]["vectors"] == len(both)
    assert_every_match_once(flow_home)
    print(f"seed {seed}: killed in " + ", ".join(
        f"{step}{'' if inside else ' (just after it)'}" for step, inside in landed))
    assert sum(inside for _, inside in landed) >= 5, landed  # the random delays rarely overshoot


def assert_every_match_once(home: Path) -> None:
    """The watchlist's matches after the kills: each paper at or above its minimum exactly
    once (all papers are within its first check's 7 days or arrived after it), none other."""
    import numpy as np

    from core.publish import current_snapshot
    from core.store import Store
    from core.watch_store import WatchStore
    from flows.steps import embedder
    from index.search import Searcher
    from index.watch import score_papers

    searcher = Searcher(current_snapshot(home), embedder(Settings()))
    try:
        [watch] = WatchStore(searcher.store).all()
        keys = np.array([r[0] for r in searcher.store.query("SELECT paper_id FROM papers")[1]])
        expected, _ = score_papers(searcher, watch, keys)
    finally:
        searcher.close()
    with Store.open_read_only(current_snapshot(home).db_path) as db:
        found = db.query("SELECT arxiv_id, score FROM watch_matches WHERE watchlist = 'rag'")[1]
    assert len(found) == len({a for a, _ in found})
    sure = {m.arxiv_id for m in expected if m.score >= watch.min_score + 1e-4}
    assert expected and sure <= {a for a, _ in found} <= {m.arxiv_id for m in expected}
