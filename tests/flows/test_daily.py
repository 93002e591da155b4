"""The daily and backfill flows end to end under the session's Prefect harness: loopback arXiv
(recorded daily-arXiv data), PwC and HF -> working database -> vectors -> index -> topics ->
one published snapshot; a second run with nothing new embeds nothing and writes no index;
a failing source fails the run loudly and keeps what the others delivered."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import (
    IngestError,
    ModelLoadError,
    SourceHTTPError,
    StoreError,
    UserInputError,
)
from core.publish import current_snapshot
from core.settings import Settings
from core.store import Store
from flows.cli import main
from flows.health import collect_status
from ingest.oai import OAIArgumentError
from ingest.pwc import SchemaDriftError
from tests.flows.conftest import DAY1, DAY2, expected_ids, run_paperradar
from tests.flows.test_index_kill import published_index_is_whole
from tests.support.pwc_server import PwCFixtureServer


def work_rows(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "work" / "papers.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_daily_flow_end_to_end_then_nothing_new(
    flow_home: Path, fixtures_dir: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.watch_store import WatchStore
    from flows.daily import daily
    from index.watch import new_watchlist

    with Store.open(Settings().work_db) as store:  # a watchlist waiting for the first papers
        WatchStore(store).add(new_watchlist("rag", "retrieval-augmented generation"),
                              datetime(2026, 6, 1))
    first = daily(since=DAY1, until=DAY1)
    papers = expected_ids(fixtures_dir, DAY1, DAY1)
    assert first["failed"] == {}
    assert first["ingest"]["inserted"] == first["ingest"]["fetched"] == len(papers) == 98
    assert first["enrich-text"]["papers"] == len(papers)
    assert first["enrich-pwc"]["found"] > 0 and first["enrich-hf"]["found"] > 0
    assert first["embed"]["embedded"] == len(papers)
    assert first["index"]["indexed"] == len(papers) and first["index"]["rebuilt"]
    assert first["topics"]["action"] == "fit"
    # The watchlist was checked against the new papers before the publish (all of them: its
    # first check covers the last 7 days).
    assert first["watchlists"]["checked"] == {"rag": len(papers)}
    matched = first["watchlists"]["total"]
    assert first["watchlists"]["matches"] == {"rag": matched} and 0 < matched < len(papers) / 4

    # One snapshot, consistent: its rows are exactly the index ids; what was ingested is there.
    snapshot = current_snapshot(flow_home)
    assert str(snapshot.path) == first["snapshot"]
    assert snapshot.info["run"] == "daily"
    assert len(published_index_is_whole(flow_home)) == len(papers)
    with Store.open_read_only(snapshot.db_path) as db:
        assert {r[0] for r in db.query("SELECT arxiv_id FROM papers")[1]} == papers
        assert db.query("SELECT count(*) FROM code_links WHERE source = 'pwc'")[1][0][0] > 0
        assert db.query("SELECT count(*) FROM paper_topics")[1][0][0] > 0
        found = db.query("SELECT m.arxiv_id, m.score, r.kind FROM watch_matches m "
                         "JOIN runs r ON r.run_id::VARCHAR = m.run_id WHERE m.watchlist = 'rag'")[1]
        assert len(found) == matched and {r[0] for r in found} <= papers
        assert all(score >= 0.45 and kind == "watch" for _, score, kind in found)
    kinds = [r[0] for r in work_rows(flow_home, "SELECT kind FROM runs WHERE status = 'ok' "
                                                "ORDER BY run_id")]
    assert kinds == ["ingest-arxiv", "enrich-text", "enrich-pwc", "enrich-hf", "embed", "index",
                     "topics", "watch"]
    assert main(["search", "speech recognition with language models", "-k", "5", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5

    # Nothing new: nothing embedded, no index written (same generation), no API asked again.
    index_files = sorted((p.name, p.stat().st_mtime_ns) for p in (flow_home / "index").iterdir())
    second = daily(since=DAY1, until=DAY1)
    assert second["ingest"]["inserted"] == 0 and second["ingest"]["unchanged"] == len(papers)
    assert second["enrich-text"]["papers"] == 0
    assert second["enrich-pwc"]["due"] == second["enrich-hf"]["due"] == 0
    assert second["embed"]["embedded"] == 0 and second["embed"]["reused"] == len(papers)
    assert second["index"]["written"] is False and second["index"]["rebuilt"] is False
    assert second["index"]["keyword_rebuilt"] is False
    assert second["topics"]["assigned"] == 0
    assert second["watchlists"]["total"] == 0 and second["watchlists"]["checked"] == {"rag": 0}
    with Store.open_read_only(current_snapshot(flow_home).db_path) as db:
        assert db.query("SELECT count(*) FROM watch_matches")[1][0][0] == matched  # none twice
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (flow_home / "index").iterdir()) == index_files
    assert current_snapshot(flow_home).path != snapshot.path  # a new snapshot (the runs), same papers
    assert len(published_index_is_whole(flow_home)) == len(papers)
    assert len(list((flow_home / "snapshots").iterdir())) == 2  # older ones pruned

    status = collect_status(Settings())
    assert status["index"]["state"] == "consistent"
    assert status["sources"]["arxiv_api"]["newest_paper"] == DAY1
    assert status["per_day"]["last"] == DAY1.isoformat()
    assert status["per_day"]["categories"]["cs.CL"][-1] == len(papers)


@pytest.mark.slow
def test_a_failing_source_fails_the_run_and_keeps_the_others(
    flow_home: Path, fixtures_dir: Path, prefect_api: str, pwc_api: PwCFixtureServer
) -> None:
    """PwC unreachable: `paperradar run` still stores, embeds, indexes and publishes the arXiv
    papers (and HF's links), retries PwC once, then exits 1 with one line naming it."""
    result = run_paperradar(prefect_api, "run", "--since", str(DAY1), "--until", str(DAY1),
                            PAPERRADAR_PWC_API_URL="http://127.0.0.1:9/api/v1",  # nobody listens
                            PAPERRADAR_HTTP_RETRIES="1", PAPERRADAR_FLOW_RETRIES="1")
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()
    error = next((line for line in last if line.startswith("paperradar: error:")), "")
    assert error.startswith("paperradar: error: 1 source(s) failed: pwc: cannot reach")
    assert "stored, indexed and published" in error
    assert "source pwc failed" in result.stderr and "Retry 1/1" in result.stderr
    assert "Traceback" not in result.stderr  # expected errors are one line, also in the log

    papers = expected_ids(fixtures_dir, DAY1, DAY1)
    assert len(published_index_is_whole(flow_home)) == len(papers)
    with Store.open_read_only(current_snapshot(flow_home).db_path) as db:
        assert db.query("SELECT count(*) FROM code_links WHERE source = 'hf'")[1][0][0] > 0
    runs = work_rows(flow_home, "SELECT kind, status FROM runs ORDER BY run_id")
    assert ("enrich-pwc", "failed") in runs and ("enrich-hf", "ok") in runs
    assert runs[-1] == ("topics", "ok")

    # PwC is back: the next run asks it about the same papers and ends well.
    again = run_paperradar(prefect_api, "run", "--since", str(DAY1), "--until", str(DAY1))
    assert again.returncode == 0, again.stderr
    assert work_rows(flow_home, "SELECT status FROM runs WHERE kind = 'enrich-pwc' "
                                "ORDER BY run_id DESC LIMIT 1") == [("ok",)]
    assert "embed: 0 papers embedded" in again.stderr


@pytest.mark.slow
def test_run_without_a_prefect_api_starts_the_temporary_one_and_stops_it(
    flow_home: Path, fixtures_dir: Path
) -> None:
    """The default: no PREFECT_API_URL. Prefect's temporary API is started for the run and
    stopped after it, once the run's logs reached it (nothing retried against a stopped
    server at exit, nothing left listening)."""
    import re
    import subprocess

    import httpx

    from tests.flows.conftest import child_env
    from tests.flows.test_cli import paperradar

    env = {k: v for k, v in child_env("").items() if k != "PREFECT_API_URL"}
    result = subprocess.run([*paperradar(), "run", "--since", str(DAY1), "--until", str(DAY1)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "daily run done" in result.stderr
    assert "connection attempts failed" not in result.stderr.lower()
    assert "Starting temporary server" not in result.stderr  # ours, started before the imports
    assert len(published_index_is_whole(flow_home)) == len(expected_ids(fixtures_dir, DAY1, DAY1))
    api = re.search(r"starting Prefect's temporary API at (\S+) for this run", result.stderr)
    assert api, result.stderr
    with pytest.raises(httpx.HTTPError):  # stopped with the run
        httpx.get(f"{api.group(1)}/health", timeout=2)


@pytest.mark.slow
def test_backfill_fetches_each_window_once(
    flow_home: Path, fixtures_dir: Path, prefect_harness: None, tmp_path: Path,
    arxiv_server: object
) -> None:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

    from flows.daily import backfill

    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: tmp_path / "results"}):
        first = backfill(start=DAY1, end=DAY2, chunk_days=1)
        assert [w["inserted"] for w in first["windows"]] == [98, 129]
        assert first["embed"]["embedded"] == 98 + 129
        assert len(published_index_is_whole(flow_home)) == len(expected_ids(fixtures_dir, DAY1, DAY2))
        asked = len(arxiv_server.requests)  # type: ignore[attr-defined]
        again = backfill(start=DAY1, end=DAY2, chunk_days=1)
        assert [w.get("cached") for w in again["windows"]] == [True, True]
        assert len(arxiv_server.requests) == asked  # type: ignore[attr-defined]
        assert again["embed"]["embedded"] == 0 and again["index"]["written"] is False
        fresh = backfill(start=DAY1, end=DAY1, chunk_days=1, refresh=True)
        assert fresh["windows"][0]["unchanged"] == 98 and not fresh["windows"][0].get("cached")


@pytest.mark.parametrize(("error", "retried"), [
    (IngestError("cannot reach https://export.arxiv.org/api/query: ConnectTimeout"), True),
    (SourceHTTPError("https://paperswithcode.co/api/v1/papers/", 503), True),
    (SourceHTTPError("https://paperswithcode.co/api/v1/papers/", 429), True),
    (SourceHTTPError("https://paperswithcode.co/api/v1/papers/", 404), False),
    (SchemaDriftError("the list is no longer under 'results'"), False),
    (OAIArgumentError("badArgument", "bad from date"), False),
    (UserInputError("not an arXiv category: 'cs.XX'"), False),
    (ModelLoadError("cannot load model 'x'"), False),
    (StoreError("cannot open papers.duckdb for writing"), False),
    (KeyError("a bug"), False),
])
def test_retries_are_decided_by_error_type(error: BaseException, retried: bool) -> None:
    from flows.daily import transient

    assert transient(error) is retried


def test_bad_run_input_is_one_line_and_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--since", "2026-06-05", "--until", "2026-06-04"]) == 2
    assert "is after" in capsys.readouterr().err
    assert main(["run", "--since", "yesterday"]) == 2
    assert main(["run", "--categories", "cs.CL,not a category"]) == 2
    assert main(["backfill", "2026-06-05", "2026-06-01"]) == 2
    assert main(["backfill", "2026-06-01", "2026-06-05", "--via", "ftp"]) == 2
    assert "use api or oai" in capsys.readouterr().err
