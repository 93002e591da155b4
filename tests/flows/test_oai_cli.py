"""`paperradar ingest oai` end to end: loopback OAI-PMH -> DuckDB -> published snapshot, and SIGKILL."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flows.cli import main

WINDOW = ["--from", "2026-06-01", "--until", "2026-06-08"]  # 2,125 cs records by datestamp
SKIP_COLUMNS = ("first_seen", "last_changed")


def paperradar() -> list[str]:
    script = Path(sys.executable).with_name("paperradar")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def window_ids(fixtures: Path, categories: set[str] | None) -> set[str]:
    """Ids of daily-arxiv records with update_date in 2026-06-01..08, read from the file."""
    found = set()
    with gzip.open(fixtures / "daily-arxiv" / "arxiv-cs-2026-06.jsonl.gz", "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            cats = set(rec["categories"].split())
            if "2026-06-01" <= rec["update_date"] <= "2026-06-08" and (
                    categories is None or cats & categories):
                found.add(rec["id"])
    return found


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def paper_rows(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [d[0] for d in con.execute("SELECT * FROM papers LIMIT 0").description]
        cols = ", ".join(n for n in names if n not in SKIP_COLUMNS)
        return con.execute(f"SELECT {cols} FROM papers ORDER BY arxiv_id").fetchall()
    finally:
        con.close()


@pytest.fixture()
def oai(oai_server: Any, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The loopback OAI-PMH server, reset, with PAPERRADAR_ARXIV_OAI_URL pointing at it."""
    oai_server.reset()
    monkeypatch.setenv("PAPERRADAR_ARXIV_OAI_URL", oai_server.oai_url)
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0.05")
    yield oai_server
    oai_server.reset()


def test_ingest_oai_stores_the_window_and_continues_from_the_watermark(
        oai: Any, home: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    assert main(["ingest", "oai", *WINDOW, "--categories", "cs.CL,cs.CV"]) == 0
    err = capsys.readouterr().err
    assert "page 3: 2125/2125 records" in err and "published" in err
    published = home / "papers.duckdb"
    want = window_ids(fixtures_dir, {"cs.CL", "cs.CV"})
    assert {i for (i,) in query(published, "SELECT arxiv_id FROM papers")} == want
    [run] = query(published, "SELECT kind, status, source, window_start::VARCHAR, window_end::VARCHAR, "
                             "papers_new, requests, retries, counts FROM runs")
    counts = json.loads(run[-1])
    assert run[:-1] == ("ingest-oai", "ok", "oai", "2026-06-01", "2026-06-08", len(want), 3, 0)
    assert counts["pages"] == 3 and counts["skipped"] == 2125 - len(want) and counts["deleted"] == 0
    assert query(published, "SELECT key, value FROM ingest_state") == [
        ("watermark cs cs.CL,cs.CV", "2026-06-08")]

    # Without --from the next run starts at the watermark; categories from the environment.
    monkeypatch.setenv("PAPERRADAR_CATEGORIES", "cs.CV,cs.CL")
    seen = len(oai.requests)
    assert main(["ingest", "oai", "--until", "2026-06-09"]) == 0
    assert oai.request_params()[seen]["from"] == "2026-06-08"
    assert query(published, "SELECT value FROM ingest_state") == [("2026-06-09",)]


def test_a_failed_run_is_resumed_by_the_next_default_run(oai: Any, home: Path, capsys: Any) -> None:
    oai.page_size = 500
    oai.inject([("pass",), ("status", 400, {})])  # the second page fails: not retried
    assert main(["ingest", "oai", *WINDOW, "--categories", "all"]) == 1
    assert "HTTP 400" in capsys.readouterr().err
    seen = len(oai.requests)
    # No dates given: the unfinished window is resumed from its stored token.
    assert main(["ingest", "oai", "--categories", "all"]) == 0
    assert "resuming an interrupted harvest" in capsys.readouterr().err
    assert oai.request_params()[seen] == {"verb": "ListRecords", "resumptionToken": oai.issued[0]}
    published = home / "papers.duckdb"
    assert query(published, "SELECT count(*), count(DISTINCT arxiv_id) FROM papers") == [(2125, 2125)]
    assert query(published, "SELECT status, window_end::VARCHAR FROM runs ORDER BY run_id") == [
        ("failed", "2026-06-08"), ("ok", "2026-06-08")]
    assert query(published, "SELECT key, value FROM ingest_state") == [("watermark cs all", "2026-06-08")]


@pytest.mark.slow
def test_sigkill_mid_harvest_then_rerun_matches_an_uninterrupted_run(
        oai: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    oai.page_size = 200  # 11 pages; at 0.2 s between requests the CLI is killed mid-list
    args = ["ingest", "oai", *WINDOW, "--categories", "all"]
    env = {**os.environ, "PAPERRADAR_ARXIV_DELAY": "0.2"}
    proc = subprocess.Popen([*paperradar(), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(oai.requests) < 4:  # the 4th request is sent after page 3 was stored
        if proc.poll() is not None:
            pytest.fail(f"the harvest ended before it could be killed: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no harvest progress within 120 s")
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = len(oai.requests)
    assert killed_at < 11, "the harvest finished before the kill"

    rerun = subprocess.run([*paperradar(), *args], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming an interrupted harvest" in rerun.stderr
    first = oai.request_params()[killed_at]
    assert set(first) == {"verb", "resumptionToken"} and first["resumptionToken"] in oai.issued
    assert int(first["resumptionToken"].split("|")[1]) >= 600  # at least 3 pages were kept
    assert len(oai.requests) - killed_at < 11  # it did not start over
    published = home / "papers.duckdb"
    assert query(published, "SELECT status FROM runs ORDER BY run_id") == [("interrupted",), ("ok",)]

    reference = tmp_path / "reference"
    monkeypatch.setenv("PAPERRADAR_HOME", str(reference))
    assert main(args) == 0
    rows = paper_rows(published)
    assert len(rows) == 2125 and rows == paper_rows(reference / "papers.duckdb")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13-01"], "is not a date"),
        (["--until", "soon"], "is not a date"),
        (["--from", "2026-06-08", "--until", "2026-06-01"], "is after"),
        (["--metadata-prefix", "oai_dc"], "unknown metadata prefix 'oai_dc': use arXivRaw or arXiv"),
        (["--set", "cs CL"], "not an OAI-PMH set"),
        (["--categories", "cs CL"], "not an arXiv category"),
        (["--set", "nosuch", *WINDOW], "OAI-PMH error badArgument"),
        (["--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(oai: Any, args: list[str], message: str, capsys: Any) -> None:
    assert main(["ingest", "oai", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paperradar") and message in lines[0], captured.err
    assert captured.out == ""
