"""Readers while the daily flow writes: another process queries the published database
read-only and runs `paperradar search` and `paperradar sql` in a loop, without a single
failure, and every answer comes from one consistent snapshot (its rows = its index ids)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.publish import current_snapshot
from tests.flows.conftest import DAY1, DAY2, expected_ids
from tests.flows.test_index_kill import published_index_is_whole


@pytest.mark.slow
def test_readers_never_fail_and_always_see_a_consistent_snapshot(
    flow_home: Path, fixtures_dir: Path, prefect_harness: None, tmp_path: Path
) -> None:
    from flows.daily import daily

    daily(since=DAY1, until=DAY1)  # a first snapshot for the readers
    before = current_snapshot(flow_home).path.name
    out, stop = tmp_path / "reads.jsonl", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.support.snapshot_reader", str(flow_home), str(out), str(stop)],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or len(out.read_text().splitlines()) < 3:  # reading before the writes
            assert reader.poll() is None, reader.stderr.read() if reader.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        grown = daily(since=DAY1, until=DAY2)  # ingest, enrich, embed, index, topics, publish
        assert grown["ingest"]["inserted"] == 129
        daily(since=DAY1, until=DAY2)  # nothing new, one more publish
        after = current_snapshot(flow_home).path.name
        seen = len(out.read_text().splitlines())
        while len(out.read_text().splitlines()) < seen + 3:  # and reading after them
            assert reader.poll() is None
            assert time.monotonic() < deadline + 120
            time.sleep(0.2)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    assert reader.returncode == 0, reader.stderr.read() if reader.stderr else ""

    rounds = [json.loads(line) for line in out.read_text().splitlines()]
    failures = [r for r in rounds if "error" in r or r["search_exit"] != 0 or r["sql_exit"] != 0]
    assert failures == [], failures[0].get("traceback") if failures else ""
    sizes = {98, 98 + 129}
    for r in rounds:
        assert r["consistent"], r
        assert r["papers"] in sizes and r["user_papers"] in sizes and r["sql_papers"] in sizes
        assert r["search_results"] == 5 and r["search_known"]
    snapshots = [r["snapshot"] for r in rounds]
    assert snapshots[0] == before and snapshots[-1] == after != before
    assert {r["papers"] for r in rounds} == sizes  # it read before and after the new papers
    assert len(rounds) >= 6
    print(f"{len(rounds)} reader rounds, {len(set(snapshots))} snapshots seen, no failure")
    assert len(published_index_is_whole(flow_home)) == len(expected_ids(fixtures_dir, DAY1, DAY2))
