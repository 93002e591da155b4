"""`paperradar ingest arxiv` as a long-running job: faults, crashes, resumption, watermarks."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from flows import cli
from flows.cli import main
from ingest import arxiv_incremental
from tests.flows.test_cli import paperradar
from tests.support.records import daily_records

CATS = {"cs.CL", "cs.CV"}
# Every column but the two that record when this store saw the paper.
COLUMNS = ("arxiv_id, paper_id, version, title, abstract, authors, published, updated, "
           "primary_category, categories, comment, journal_ref, doi, venue, has_code, withdrawn, "
           "content_hash, source")


@pytest.fixture()
def server(arxiv_server):  # type: ignore[no-untyped-def]
    arxiv_server.reset()
    yield arxiv_server
    arxiv_server.reset()


def table(home: Path) -> list[tuple]:
    con = duckdb.connect(str(home / "work" / "papers.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT {COLUMNS} FROM papers ORDER BY arxiv_id").fetchall()
    finally:
        con.close()


def runs(home: Path) -> list[dict]:
    con = duckdb.connect(str(home / "work" / "papers.duckdb"), read_only=True)
    try:
        cur = con.execute("SELECT * FROM runs ORDER BY run_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


def queries(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [unquote(path).replace("+", " ") for _, path in server.requests]


def test_lookback_matches_the_cli_help() -> None:
    assert cli.LOOKBACK_DAYS == arxiv_incremental.LOOKBACK_DAYS


def test_ingest_through_faults_stores_exactly_the_right_papers(
    served_home: Path, server, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PAPERRADAR_ARXIV_PAGE_SIZE", "100")
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0.01")
    server.inject_every(3, [("status", 503, {"Retry-After": "0"}), ("status", 429, {}),
                            ("reset",), ("truncate", 0.4), ("status", 502, {})])
    args = ["ingest", "arxiv", "--categories", "cs.CL,cs.CV", "--since", "2026-06-01",
            "--until", "2026-06-14"]
    assert main(args) == 0

    expected = daily_records(fixtures_dir, CATS, date(2026, 6, 1), date(2026, 6, 14))
    stored = [row[0] for row in table(served_home)]
    assert len(expected) >= 2000
    assert stored == sorted(r["id"] for r in expected)  # each once, none missing
    faults = len(server.faults_served)
    assert faults >= 9 and set(server.faults_served) == {"status", "reset", "truncate"}
    [run] = runs(served_home)
    assert run["status"] == "ok" and run["source"] == "arxiv_api"
    assert (run["window_start"], run["window_end"]) == (date(2026, 6, 1), date(2026, 6, 14))
    assert run["papers_new"] == len(expected) and run["papers_unchanged"] == 0
    assert run["retries"] == faults  # every fault was retried once, and counted
    assert run["requests"] == len(server.requests)
    reasons = json.loads(run["counts"])
    assert reasons["fetched"] == len(expected)


def test_a_failed_run_keeps_finished_weeks_and_resumes_after_them(
    served_home: Path, server, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PAPERRADAR_ARXIV_PAGE_SIZE", "500")
    monkeypatch.setenv("PAPERRADAR_HTTP_RETRIES", "2")
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0.01")
    args = ["ingest", "arxiv", "--categories", "cs.CL,cs.CV", "--since", "2026-06-01",
            "--until", "2026-06-21"]
    # Week 1 takes 3 pages; the second page of week 2 then fails for good.
    server.inject([("pass",)] * 4 + [("status", 503, {})] * 2)
    assert main(args) == 1
    [failed] = runs(served_home)
    assert failed["status"] == "failed" and "503" in failed["error"]
    stored_after_failure = len(table(served_home))
    assert stored_after_failure >= 1404 + 500  # week 1 and the page of week 2 that arrived

    server.requests.clear()
    assert main(args) == 0
    assert "submittedDate:[202606080000 TO 202606142359]" in queries(server)[0]  # not week 1
    assert len(table(served_home)) == 3039
    con = duckdb.connect(str(served_home / "work" / "papers.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM ingest_state WHERE source = 'arxiv_api_progress'"
                       ).fetchone() == (0,)  # the finished window leaves no progress mark
    con.close()


def test_watermarks_advance_and_never_move_back(served_home: Path, server) -> None:  # type: ignore[no-untyped-def]
    assert main(["ingest", "arxiv", "--categories", "cs.CL", "--since", "2026-06-01",
                 "--until", "2026-06-10"]) == 0
    assert main(["ingest", "arxiv", "--categories", "cs.CL", "--since", "2026-05-01",
                 "--until", "2026-05-03"]) == 0  # a backfill of older days
    con = duckdb.connect(str(served_home / "work" / "papers.duckdb"), read_only=True)
    assert con.execute("SELECT value FROM ingest_state WHERE source = 'arxiv_api' "
                       "AND key = 'cs.CL'").fetchone() == ("2026-06-10",)
    con.close()
    # Without --since, the next run starts LOOKBACK_DAYS before the watermark.
    server.requests.clear()
    assert main(["ingest", "arxiv", "--categories", "cs.CL", "--until", "2026-06-12"]) == 0
    assert "submittedDate:[202606050000 TO 202606112359]" in queries(server)[0]


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_equals_an_uninterrupted_run(
    served_home: Path, server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    args = ["ingest", "arxiv", "--categories", "cs.CL,cs.CV", "--since", "2026-06-01",
            "--until", "2026-06-21"]
    monkeypatch.setenv("PAPERRADAR_ARXIV_PAGE_SIZE", "100")
    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", "0.1")
    child = subprocess.Popen([*paperradar(), *args], env=os.environ.copy(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(server.requests) < 20 and time.monotonic() < deadline:  # week 1 = 15 pages
        assert child.poll() is None, "the ingest finished before it could be killed"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    killed = len(table(served_home))
    assert 0 < killed < 3039

    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", "0")
    server.requests.clear()
    assert main(args) == 0
    assert "202606010000" not in queries(server)[0]  # resumed after the finished week
    resumed = table(served_home)
    statuses = [r["status"] for r in runs(served_home)]
    assert statuses == ["interrupted", "ok"]

    monkeypatch.setenv("PAPERRADAR_HOME", str(tmp_path / "uninterrupted"))
    assert main(args) == 0
    assert resumed == table(tmp_path / "uninterrupted")
    assert len(resumed) == 3039 == len({row[0] for row in resumed})


def test_requests_never_come_faster_than_the_delay_retries_included(
    served_home: Path, server, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    delay = 0.25
    monkeypatch.setenv("PAPERRADAR_ARXIV_DELAY", str(delay))
    monkeypatch.setenv("PAPERRADAR_ARXIV_PAGE_SIZE", "200")
    monkeypatch.setenv("PAPERRADAR_HTTP_BACKOFF", "0")
    server.inject([("pass",), ("status", 503, {"Retry-After": "0"}), ("reset",)])
    assert main(["ingest", "arxiv", "--categories", "cs.CL", "--since", "2026-06-01",
                 "--until", "2026-06-05"]) == 0
    stamps = [t for t, _ in server.requests]
    assert len(stamps) >= 5
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= delay * 0.95, gaps  # timestamps taken at the server


def test_the_api_and_oai_pmh_share_one_arxiv_budget(server, oai_server) -> None:  # type: ignore[no-untyped-def]
    # Two threads, two arXiv endpoints (two loopback servers here, two hosts at arXiv): the
    # requests of both, merged in time order at the servers, are still spaced by the delay.
    import threading

    from ingest.arxiv_api import ArxivAPIClient
    from ingest.oai import OAIClient

    oai_server.reset()
    oai_server.page_size = 100
    delay = 0.2
    api = ArxivAPIClient(server.api_url, delay=delay, page_size=100)
    oai = OAIClient(oai_server.oai_url, delay=delay)
    work = [
        lambda: sum(1 for _ in api.fetch_window(["cs.CL"], date(2026, 6, 1), date(2026, 6, 4))),
        lambda: sum(1 for page in itertools.islice(
            oai.list_records("cs", date(2026, 6, 2), date(2026, 6, 2)), 5)),
    ]
    threads = [threading.Thread(target=job) for job in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = sorted([t for t, _ in server.requests] + [t for t, _ in oai_server.requests])
    assert len(server.requests) >= 4 and len(oai_server.requests) >= 4
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= delay * 0.95, gaps
    oai_server.reset()
